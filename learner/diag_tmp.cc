#include <iostream>
#include "learner/trainer.h"
#include "model/test_model.h"
#include "model/transformer.h"
#include "core/random.h"
using namespace skillsd;
int main(int argc, char** argv) {
  model::SetIntraOpThreads(2);
  const int vocab = 40;
  model::ModelConfig c = model::TestModelConfig(vocab, 64, 2, 4, 2);
  auto lm = argc > 3 ? *model::LoadModel(argv[3]) : model::RandomModel(c, 1);
  const int len = argc > 4 ? std::atoi(argv[4]) : 20;
  learner::TrainerOptions o;
  o.objective = learner::Objective::kSft;
  o.learning_rate = std::atof(argv[1]);
  o.warmup_steps = 5;
  o.minibatches = 1;
  learner::Trainer trainer(lm, o);
  Rng rng(1);
  const int pos = std::atoi(argv[2]);
  for (int step = 0; step < 400; ++step) {
    std::vector<learner::TrainingSequence> batch;
    for (int b = 0; b < 32; ++b) {
      learner::TrainingSequence s;
      for (int i = 0; i < len; ++i) s.tokens.push_back(2 + rng.Uniform(30));
      s.tokens.push_back(1);
      s.tokens.push_back(argc > 5 ? 300 + s.tokens[pos] % 4 : s.tokens[pos]);
      s.loss_mask.assign(s.tokens.size(), 0);
      s.loss_mask.back() = 1;
      batch.push_back(s);
    }
    auto st = trainer.Step(batch);
    if (step % 50 == 0) std::cout << step << " " << st->loss << std::endl;
  }
}
