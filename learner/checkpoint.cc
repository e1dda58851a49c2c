#include "learner/checkpoint.h"

#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/file_util.h"
#include "core/json.h"
#include "core/status.h"
#include "model/safetensors.h"

namespace skillsd::learner {

absl::StatusOr<std::string> SaveCheckpoint(const std::string& dir, Trainer& trainer, const LearnerState& state) {
  const std::string name = absl::StrFormat("ckpt-%08d", state.step);
  const std::string path = dir + "/" + name;
  RETURN_IF_ERROR(MakeDirectories(path));
  RETURN_IF_ERROR(model::WriteSafetensors(path + "/model.safetensors", trainer.model()->StateDict()));
  // Streamed to the file: the moments are twice the weights, too much to hold again as a string (at 0.6 B
  // parameters, 4.8 GB).
  RETURN_IF_ERROR(WriteFileAtomicallyWith(path + "/optimizer.pt", [&](const std::string& temp) {
    return CatchExceptions("saving the optimizer", [&]() -> absl::Status {
      torch::save(trainer.optimizer(), temp);
      return absl::OkStatus();
    });
  }));
  const Trainer::ResumeState resume = trainer.resume_state();
  std::string ids;
  for (const std::string& id : state.consumed_group_ids) absl::StrAppend(&ids, ids.empty() ? "" : ", ", JsonQuote(id));
  RETURN_IF_ERROR(
      WriteFileAtomically(path + "/state.json",
                          absl::StrCat("{\"step\": ", state.step, ", \"curriculum_cursor\": ", state.curriculum_cursor,
                                       ", \"optimizer_steps\": ", resume.optimizer_steps, ", \"shuffle_state\": \"",
                                       resume.shuffle_state, "\", \"consumed_group_ids\": [", ids, "]}\n")));
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/LATEST", name + "\n"));
  return path;
}

absl::StatusOr<LearnerState> LoadLatestCheckpoint(const std::string& dir, Trainer* trainer) {
  ASSIGN_OR_RETURN(std::string latest, ReadFile(dir + "/LATEST"));
  const std::string name(absl::StripAsciiWhitespace(latest));
  if (name.empty() || name.find('/') != std::string::npos) {
    return absl::DataLossError(absl::StrCat(dir, "/LATEST is damaged"));
  }
  const std::string path = dir + "/" + name;
  ASSIGN_OR_RETURN(std::string state_text, ReadFile(path + "/state.json"));
  absl::StatusOr<JsonValue> json = ParseJson(state_text);
  if (!json.ok()) return absl::DataLossError(absl::StrCat(path, "/state.json: ", json.status().message()));
  LearnerState state;
  Trainer::ResumeState resume;
  const JsonValue* step = json->Find("step");
  const JsonValue* cursor = json->Find("curriculum_cursor");
  const JsonValue* steps = json->Find("optimizer_steps");
  const JsonValue* shuffle = json->Find("shuffle_state");
  const JsonValue* ids = json->Find("consumed_group_ids");
  if (step == nullptr || !step->is_integer() || cursor == nullptr || !cursor->is_integer() || steps == nullptr ||
      !steps->is_integer() || shuffle == nullptr || !shuffle->is_string() || ids == nullptr || !ids->is_array()) {
    return absl::DataLossError(absl::StrCat(path, "/state.json: missing or mistyped fields"));
  }
  state.step = step->integer();
  state.curriculum_cursor = cursor->integer();
  resume.optimizer_steps = steps->integer();
  resume.shuffle_state = std::stoull(shuffle->string());
  for (const JsonValue& id : ids->array()) {
    if (!id.is_string()) return absl::DataLossError(absl::StrCat(path, "/state.json: group ids must be strings"));
    state.consumed_group_ids.push_back(id.string());
  }
  ASSIGN_OR_RETURN(model::TensorMap weights, model::ReadSafetensors(path + "/model.safetensors"));
  RETURN_IF_ERROR(Annotate(trainer->model()->LoadStateDict(weights), path));
  ASSIGN_OR_RETURN(std::string optimizer, ReadFile(path + "/optimizer.pt"));
  RETURN_IF_ERROR(CatchExceptions(path + "/optimizer.pt", [&]() -> absl::Status {
    std::istringstream in(optimizer);
    torch::load(trainer->optimizer(), in, trainer->model()->device());  // moments live beside their parameters
    return absl::OkStatus();
  }));
  trainer->set_resume_state(resume);
  return state;
}

}  // namespace skillsd::learner
