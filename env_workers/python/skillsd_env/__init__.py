"""skillsd's Python env-worker kit (skillsd_env.kit) and the FrozenLake worker (skillsd_env.frozenlake)."""
