// The `skillsd model init`, `skillsd tokenize` and `skillsd score` commands. Kept in their own translation
// unit: they include LibTorch, which the gRPC parts of the tools binary must not.
#ifndef SKILLSD_TOOLS_MODEL_COMMANDS_H_
#define SKILLSD_TOOLS_MODEL_COMMANDS_H_

namespace skillsd {

// Each returns the process exit code (0 ok, 1 failure, 2 bad usage) and reads its flags itself.
int ModelInitCommand();
int TokenizeCommand();
int ScoreCommand();
int SftCommand();
int EvalCommand();

}  // namespace skillsd

#endif  // SKILLSD_TOOLS_MODEL_COMMANDS_H_
