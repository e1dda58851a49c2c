#!/usr/bin/env python3
"""A TCP proxy that injects network faults between skillsd processes on loopback (tests only).

    netfault_proxy.py --listen 127.0.0.1:PORT --target 127.0.0.1:PORT [--seed N] [--delay-ms MAX]
                      [--cut-prob P] [--stall-prob P] [--stall-s S] [--duration-s S] [--stats FILE]

Each chunk forwarded in either direction waits a random 0..MAX ms; after each chunk a connection is cut (both
sides closed) with probability --cut-prob, or stalls (stops forwarding, stays open) for --stall-s seconds with
probability --stall-prob. Runs for --duration-s seconds at most (a bounded test tool), then exits; SIGTERM ends it
sooner. Writes counts of connections, chunks, cuts and stalls to --stats (JSON) at exit.
"""
import argparse
import asyncio
import json
import random
import signal

STATS = {"connections": 0, "chunks": 0, "bytes": 0, "cuts": 0, "stalls": 0}


async def pump(reader, writer, args, rng, conn):
    try:
        while not conn["closed"]:
            data = await reader.read(65536)
            if not data:
                break
            if args.delay_ms > 0:
                await asyncio.sleep(rng.uniform(0, args.delay_ms) / 1000.0)
            writer.write(data)
            await writer.drain()
            STATS["chunks"] += 1
            STATS["bytes"] += len(data)
            roll = rng.random()
            if roll < args.cut_prob:
                STATS["cuts"] += 1
                break
            if roll < args.cut_prob + args.stall_prob:
                STATS["stalls"] += 1
                await asyncio.sleep(args.stall_s)
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        conn["closed"] = True
        for w in conn["writers"]:
            try:
                w.close()
            except Exception:  # noqa: BLE001 - closing a broken socket
                pass


async def handle(client_reader, client_writer, args, rng):
    STATS["connections"] += 1
    host, port = args.target.rsplit(":", 1)
    try:
        server_reader, server_writer = await asyncio.open_connection(host, int(port))
    except OSError:
        client_writer.close()
        return
    conn = {"closed": False, "writers": [client_writer, server_writer]}
    await asyncio.gather(pump(client_reader, server_writer, args, rng, conn),
                         pump(server_reader, client_writer, args, rng, conn))


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--delay-ms", type=float, default=20)
    parser.add_argument("--cut-prob", type=float, default=0.002)
    parser.add_argument("--stall-prob", type=float, default=0.002)
    parser.add_argument("--stall-s", type=float, default=3)
    parser.add_argument("--duration-s", type=float, default=900)
    parser.add_argument("--stats", default="")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    host, port = args.listen.rsplit(":", 1)
    server = await asyncio.start_server(lambda r, w: handle(r, w, args, rng), host, int(port))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), timeout=args.duration_s)
    except asyncio.TimeoutError:
        pass
    server.close()
    if args.stats:
        with open(args.stats, "w") as f:
            json.dump(STATS, f)


if __name__ == "__main__":
    asyncio.run(main())
