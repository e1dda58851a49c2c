#include "skill_service/summarizer.h"

#include <curl/curl.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "core/file_util.h"
#include "core/json.h"
#include "core/logging.h"
#include "core/status.h"
#include "core/utf8.h"

namespace skillsd::skill {

absl::StatusOr<skillsd::v1::SkillContent> RulesSummarizer::Summarize(const skillsd::v1::Trajectory& trajectory) {
  std::vector<std::string> moves;  // moves that changed the board
  std::vector<size_t> onto;        // move numbers (1-based) that put a box on a target
  size_t useful = 0;               // moves in the useful prefix: up to the last progress before a deadlock
  int invalid = 0, bumps = 0;
  int first_deadlock = -1;
  for (const auto& e : trajectory.events()) {
    if (e.invalid()) {
      ++invalid;
      continue;
    }
    if (e.bumped()) ++bumps;
    if (!e.moved()) continue;
    moves.push_back(e.action());
    if (e.box_onto_target()) {
      onto.push_back(moves.size());
      if (first_deadlock < 0) useful = moves.size();
    }
    if (e.deadlock() && first_deadlock < 0) first_deadlock = static_cast<int>(moves.size());
  }
  const bool solved = trajectory.stats().solved();
  if (!solved && useful == 0) return absl::FailedPreconditionError("no box reached a target: nothing to summarise");
  skillsd::v1::SkillContent skill;
  std::vector<std::string> at;
  for (size_t m : onto) at.push_back(absl::StrCat(m));
  skill.set_success_analysis(
      solved ? absl::StrCat("Solved in ", moves.size(), " moves; boxes reached targets at moves ",
                            absl::StrJoin(at, ", "), ".")
             : absl::StrCat("Reached ", static_cast<int>(trajectory.stats().completion() * 100 + 0.5),
                            "% of the targets; boxes reached targets at moves ", absl::StrJoin(at, ", "), "."));
  std::vector<std::string> mistakes;
  if (invalid > 0) absl::StrAppend(&mistakes.emplace_back(), invalid, " invalid answers");
  if (bumps > 0) absl::StrAppend(&mistakes.emplace_back(), bumps, " moves into a wall or a stuck box");
  if (first_deadlock >= 0) {
    absl::StrAppend(&mistakes.emplace_back(), "move ", first_deadlock,
                    " pushed a box where it can never reach a target");
  }
  skill.set_mistake_analysis(mistakes.empty() ? "None." : absl::StrCat(absl::StrJoin(mistakes, "; "), "."));
  const size_t keep = solved ? moves.size() : useful;
  skill.set_golden_workflow(absl::StrJoin(moves.begin(), moves.begin() + static_cast<long>(keep), ", "));
  return skill;
}

absl::StatusOr<skillsd::v1::SkillContent> ParseSkillJson(const std::string& text) {
  absl::string_view body = absl::StripAsciiWhitespace(text);
  if (absl::ConsumePrefix(&body, "```")) {  // a fenced block
    absl::ConsumePrefix(&body, "json");
    const size_t end = body.rfind("```");
    if (end == absl::string_view::npos) return absl::InvalidArgumentError("unterminated ``` block");
    body = absl::StripAsciiWhitespace(body.substr(0, end));
  }
  ASSIGN_OR_RETURN(JsonValue value, ParseJson(body));
  if (!value.is_object()) return absl::InvalidArgumentError("the skill must be a JSON object");
  skillsd::v1::SkillContent skill;
  const std::pair<const char*, std::string*> fields[] = {{"success_analysis", skill.mutable_success_analysis()},
                                                         {"mistake_analysis", skill.mutable_mistake_analysis()},
                                                         {"golden_workflow", skill.mutable_golden_workflow()}};
  for (const auto& [name, out] : fields) {
    const JsonValue* field = value.Find(name);
    if (field == nullptr || !field->is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("field \"", name, "\" missing or not a string"));
    }
    // JSON escapes can spell lone surrogates, which are not UTF-8; protobuf strings must be.
    if (ValidUtf8(field->string()) != field->string()) {
      return absl::InvalidArgumentError(absl::StrCat("field \"", name, "\" is not valid UTF-8"));
    }
    *out = field->string();
  }
  if (value.object().size() != 3) return absl::InvalidArgumentError("the skill must have exactly the three fields");
  return skill;
}

OpenAiSummarizer::OpenAiSummarizer(OpenAiOptions options) : options_(std::move(options)) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

std::string OpenAiSummarizer::Describe(const skillsd::v1::Trajectory& t) {
  std::string out =
      absl::StrCat("Task: ", t.task().task_id(), "\nOutcome: ", t.stats().solved() ? "solved" : "not solved", ", ",
                   static_cast<int>(t.stats().completion() * 100 + 0.5), "% of boxes on targets, ", t.stats().steps(),
                   " moves, ", t.stats().invalid_actions(), " invalid answers.\nMoves:\n");
  for (const auto& e : t.events()) {
    absl::StrAppend(&out, "turn ", e.turn(), ": ", e.action(), e.invalid() ? " (invalid)" : "",
                    e.bumped() ? " (bumped)" : "", e.pushed_box() ? " (pushed a box)" : "",
                    e.box_onto_target() ? " (box onto a target)" : "", e.box_off_target() ? " (box off a target)" : "",
                    e.deadlock() ? " (box now stuck)" : "", "\n");
  }
  return out;
}

namespace {

size_t AppendBody(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

constexpr char kInstructions[] =
    "You summarise an agent's episode into a reusable skill for the same task. Reply with only a JSON object with "
    "exactly three string fields: \"success_analysis\" (what worked), \"mistake_analysis\" (what to avoid), "
    "\"golden_workflow\" (the moves to make, comma-separated, e.g. \"Up, Left, Left\").";

}  // namespace

absl::StatusOr<std::string> OpenAiSummarizer::Call(const std::string& body) {
  if (options_.requests_per_second > 0) {  // rate limit: reserve the next slot, then wait for it
    absl::Time slot;
    {
      absl::MutexLock lock(&mu_);
      slot = std::max(next_call_, absl::Now());
      next_call_ = slot + absl::Seconds(1.0 / options_.requests_per_second);
    }
    absl::SleepFor(slot - absl::Now());
  }
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  std::string reply;
  struct curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  if (!options_.api_key.empty()) {
    headers = curl_slist_append(headers, absl::StrCat("Authorization: Bearer ", options_.api_key).c_str());
  }
  const std::string url = absl::StrCat(absl::StripSuffix(options_.url, "/"), "/chat/completions");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  const CURLcode code = curl_easy_perform(curl);
  long http = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (code != CURLE_OK) return absl::UnavailableError(absl::StrCat("POST ", url, ": ", curl_easy_strerror(code)));
  if (http == 429 || http >= 500) return absl::UnavailableError(absl::StrCat("POST ", url, ": HTTP ", http));
  if (http != 200)
    return absl::InvalidArgumentError(absl::StrCat("POST ", url, ": HTTP ", http, ": ", reply.substr(0, 200)));
  ASSIGN_OR_RETURN(JsonValue json, ParseJson(reply));
  const JsonValue* choices = json.Find("choices");
  if (choices == nullptr || !choices->is_array() || choices->array().empty()) {
    return absl::DataLossError("reply without choices");
  }
  const JsonValue* message = choices->array()[0].Find("message");
  const JsonValue* content = message == nullptr ? nullptr : message->Find("content");
  if (content == nullptr || !content->is_string()) return absl::DataLossError("reply without message content");
  return content->string();
}

absl::StatusOr<skillsd::v1::SkillContent> OpenAiSummarizer::Summarize(const skillsd::v1::Trajectory& trajectory) {
  const std::string body = absl::StrCat(
      "{\"model\": ", JsonQuote(options_.model),
      ", \"temperature\": 0, \"messages\": [{\"role\": \"system\", \"content\": ", JsonQuote(kInstructions),
      "}, {\"role\": \"user\", \"content\": ", JsonQuote(Describe(trajectory)), "}]}");
  absl::Duration backoff = options_.initial_backoff;
  absl::Status last;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    absl::StatusOr<std::string> content = Call(body);
    if (content.ok()) {
      absl::StatusOr<skillsd::v1::SkillContent> skill = ParseSkillJson(*content);
      if (skill.ok()) return skill;
      last = Annotate(skill.status(), "malformed skill");  // retried: sampling may do better
    } else if (content.status().code() == absl::StatusCode::kUnavailable ||
               content.status().code() == absl::StatusCode::kDataLoss) {
      last = content.status();
    } else {
      return content.status();  // permanent (bad request, authentication)
    }
    SKILLSD_LOG(WARNING) << "openai summariser: attempt " << attempt << ": " << last;
    if (attempt < options_.max_attempts) absl::SleepFor(backoff);
    backoff *= 2;
  }
  return absl::UnavailableError(absl::StrCat("gave up after ", options_.max_attempts, " attempts: ", last.message()));
}

absl::StatusOr<std::unique_ptr<Summarizer>> MakeSummarizer(const SkillConfig& config) {
  if (config.summarizer == "rules") return std::unique_ptr<Summarizer>(new RulesSummarizer());
  OpenAiOptions o;
  o.url = config.openai_url;
  o.model = config.openai_model;
  if (o.url.empty() || o.model.empty()) {
    return absl::InvalidArgumentError("skill.summarizer openai needs skill.openai_url and skill.openai_model");
  }
  if (!config.openai_key_file.empty()) {
    ASSIGN_OR_RETURN(std::string key, ReadFile(config.openai_key_file));
    o.api_key = std::string(absl::StripAsciiWhitespace(key));
  }
  return std::unique_ptr<Summarizer>(new OpenAiSummarizer(o));
}

}  // namespace skillsd::skill
