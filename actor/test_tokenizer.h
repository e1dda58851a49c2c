// A small BPE tokenizer trained on Sokoban-like text, for the actor's unit tests.
#ifndef SKILLSD_ACTOR_TEST_TOKENIZER_H_
#define SKILLSD_ACTOR_TEST_TOKENIZER_H_

#include <memory>
#include <string>

#include "model/tokenizer.h"

namespace skillsd::actor {

inline std::unique_ptr<model::Tokenizer> TinyTokenizer() {
  const std::string json = model::Tokenizer::TrainBpeJson(
      {"<answer>Up || Left</answer>", "######\n#P_X_#\n######", "system\nuser\nassistant\n"}, 300,
      {"<|endoftext|>", "<|im_start|>", "<|im_end|>"});
  return std::move(model::Tokenizer::FromJson(json)).value();
}

}  // namespace skillsd::actor

#endif  // SKILLSD_ACTOR_TEST_TOKENIZER_H_
