#include "skill_service/skill_bank.h"

#include <sqlite3.h>

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/status.h"

namespace skillsd::skill {
namespace {

// One prepared statement; binds by position (1-based), steps, finalizes on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      status_ = absl::InternalError(absl::StrCat("sqlite prepare: ", sqlite3_errmsg(db), " in ", sql));
    }
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt& Bind(int i, const std::string& v) {
    if (stmt_) sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& BindBlob(int i, const std::string& v) {
    if (stmt_) sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    if (stmt_) sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& Bind(int i, double v) {
    if (stmt_) sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  // true = a row is available, false = done.
  absl::StatusOr<bool> Step() {
    RETURN_IF_ERROR(status_);
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return absl::InternalError(absl::StrCat("sqlite: ", sqlite3_errmsg(db_)));
  }
  absl::Status Run() { return Step().status(); }
  std::string Text(int col) {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    return p == nullptr ? "" : std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col));
  }
  std::string Blob(int col) {
    const void* p = sqlite3_column_blob(stmt_, col);
    return p == nullptr ? "" : std::string(static_cast<const char*>(p), sqlite3_column_bytes(stmt_, col));
  }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  double Double(int col) { return sqlite3_column_double(stmt_, col); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  absl::Status status_;
};

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS skills (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  skill_id TEXT UNIQUE NOT NULL,
  task_id TEXT NOT NULL,
  success_analysis TEXT NOT NULL,
  mistake_analysis TEXT NOT NULL,
  golden_workflow TEXT NOT NULL,
  source_trajectory_id TEXT NOT NULL,
  policy_version INTEGER NOT NULL,
  summarizer TEXT NOT NULL,
  summarizer_model TEXT NOT NULL,
  created_unix_ms INTEGER NOT NULL,
  selections INTEGER NOT NULL DEFAULT 0,
  outcomes INTEGER NOT NULL DEFAULT 0,
  reward_sum REAL NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS skills_by_task ON skills(task_id, seq);
CREATE TABLE IF NOT EXISTS trajectories (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  trajectory_id TEXT UNIQUE NOT NULL,
  payload BLOB NOT NULL,
  state INTEGER NOT NULL);  -- 0 queued, 1 summarised, 2 failed
CREATE TABLE IF NOT EXISTS selections (selection_id TEXT PRIMARY KEY, task_id TEXT NOT NULL, skill_id TEXT NOT NULL,
                                       bank_size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outcomes (group_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS pending_credit (task_id TEXT PRIMARY KEY, skill_id TEXT NOT NULL);
)sql";

skillsd::v1::Skill ReadSkill(Stmt& s) {
  // Columns: skill_id, task_id, success, mistake, workflow, source, version, summarizer, model, created,
  // selections, outcomes, reward_sum.
  skillsd::v1::Skill skill;
  skill.set_skill_id(s.Text(0));
  skill.set_task_id(s.Text(1));
  skill.mutable_content()->set_success_analysis(s.Text(2));
  skill.mutable_content()->set_mistake_analysis(s.Text(3));
  skill.mutable_content()->set_golden_workflow(s.Text(4));
  auto* p = skill.mutable_provenance();
  p->set_source_trajectory_id(s.Text(5));
  p->set_policy_version(s.Int(6));
  p->set_summarizer(s.Text(7));
  p->set_summarizer_model(s.Text(8));
  p->set_created_unix_ms(s.Int(9));
  auto* st = skill.mutable_stats();
  st->set_selections(s.Int(10));
  st->set_outcomes(s.Int(11));
  st->set_reward_sum(s.Double(12));
  st->set_mean_reward(st->outcomes() > 0 ? st->reward_sum() / static_cast<double>(st->outcomes()) : 0.0);
  return skill;
}

constexpr char kSkillColumns[] =
    "skill_id, task_id, success_analysis, mistake_analysis, golden_workflow, source_trajectory_id, policy_version, "
    "summarizer, summarizer_model, created_unix_ms, selections, outcomes, reward_sum";

// A transaction that rolls back unless committed.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {
    ok_ = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~Transaction() {
    if (ok_ && !committed_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  absl::Status Commit() {
    if (!ok_) return absl::InternalError(absl::StrCat("sqlite BEGIN: ", sqlite3_errmsg(db_)));
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return absl::InternalError(absl::StrCat("sqlite COMMIT: ", sqlite3_errmsg(db_)));
    }
    committed_ = true;
    return absl::OkStatus();
  }

 private:
  sqlite3* db_;
  bool ok_ = false;
  bool committed_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SkillBank>> SkillBank::Open(const std::string& path, double ucb_c, Credit credit,
                                                           int max_skills_per_task) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
      SQLITE_OK) {
    const std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat("cannot open skill bank ", path, ": ", message));
  }
  std::unique_ptr<SkillBank> bank(new SkillBank(db, ucb_c, credit, max_skills_per_task));
  absl::MutexLock lock(&bank->mu_);
  sqlite3_busy_timeout(db, 5000);
  // WAL + synchronous=FULL: a commit is on disk before the reply that acknowledges it.
  RETURN_IF_ERROR(bank->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"));
  RETURN_IF_ERROR(bank->Exec(kSchema));
  return bank;
}

SkillBank::~SkillBank() {
  absl::MutexLock lock(&mu_);
  sqlite3_close(db_);
}

absl::Status SkillBank::Exec(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    return absl::InternalError(absl::StrCat("sqlite: ", message));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<size_t>> SkillBank::EnqueueTrajectories(
    const std::vector<skillsd::v1::Trajectory>& trajectories) {
  absl::MutexLock lock(&mu_);
  Transaction tx(db_);
  std::vector<size_t> added;
  for (size_t i = 0; i < trajectories.size(); ++i) {
    const auto& t = trajectories[i];
    Stmt insert(db_, "INSERT OR IGNORE INTO trajectories (trajectory_id, payload, state) VALUES (?, ?, 0)");
    RETURN_IF_ERROR(insert.Bind(1, t.trajectory_id()).BindBlob(2, t.SerializeAsString()).Run());
    if (sqlite3_changes(db_) > 0) added.push_back(i);
  }
  RETURN_IF_ERROR(tx.Commit());
  return added;
}

absl::StatusOr<std::vector<skillsd::v1::Trajectory>> SkillBank::PendingTrajectories() {
  absl::MutexLock lock(&mu_);
  std::vector<skillsd::v1::Trajectory> out;
  Stmt s(db_, "SELECT payload FROM trajectories WHERE state = 0 ORDER BY seq");
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    skillsd::v1::Trajectory t;
    if (!t.ParseFromString(s.Blob(0))) return absl::DataLossError("a stored trajectory does not parse");
    out.push_back(std::move(t));
  }
  return out;
}

absl::StatusOr<bool> SkillBank::CompleteTrajectory(const skillsd::v1::Trajectory& trajectory,
                                                   const skillsd::v1::SkillContent* skill,
                                                   const std::string& summarizer, const std::string& summarizer_model,
                                                   bool failed) {
  absl::MutexLock lock(&mu_);
  Transaction tx(db_);
  Stmt done(db_, "UPDATE trajectories SET state = ? WHERE trajectory_id = ?");
  RETURN_IF_ERROR(done.Bind(1, int64_t{failed ? 2 : 1}).Bind(2, trajectory.trajectory_id()).Run());
  bool added = false;
  if (skill != nullptr) {
    const std::string& task = trajectory.task().task_id();
    Stmt same(db_,
              "SELECT COUNT(*), SUM(success_analysis = ? AND mistake_analysis = ? AND golden_workflow = ?) FROM skills "
              "WHERE task_id = ?");
    same.Bind(1, skill->success_analysis()).Bind(2, skill->mistake_analysis()).Bind(3, skill->golden_workflow());
    same.Bind(4, task);
    ASSIGN_OR_RETURN(bool row, same.Step());
    const int64_t count = row ? same.Int(0) : 0, identical = row ? same.Int(1) : 0;
    if (identical == 0 && (max_skills_per_task_ <= 0 || count < max_skills_per_task_)) {
      Stmt insert(db_,
                  "INSERT INTO skills (skill_id, task_id, success_analysis, mistake_analysis, golden_workflow, "
                  "source_trajectory_id, policy_version, summarizer, summarizer_model, created_unix_ms) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      insert.Bind(1, absl::StrCat("skill-", trajectory.trajectory_id())).Bind(2, task);
      insert.Bind(3, skill->success_analysis()).Bind(4, skill->mistake_analysis()).Bind(5, skill->golden_workflow());
      insert.Bind(6, trajectory.trajectory_id()).Bind(7, trajectory.policy_version()).Bind(8, summarizer);
      insert.Bind(9, summarizer_model).Bind(10, absl::ToUnixMillis(absl::Now()));
      RETURN_IF_ERROR(insert.Run());
      added = true;
    }
  }
  RETURN_IF_ERROR(tx.Commit());
  return added;
}

absl::StatusOr<skillsd::v1::SelectSkillResponse> SkillBank::Select(const std::string& task_id,
                                                                   const std::string& selection_id) {
  absl::MutexLock lock(&mu_);
  skillsd::v1::SelectSkillResponse response;
  Transaction tx(db_);
  if (!selection_id.empty()) {  // a repeated selection returns the first answer
    Stmt seen(db_, "SELECT skill_id, bank_size FROM selections WHERE selection_id = ?");
    seen.Bind(1, selection_id);
    ASSIGN_OR_RETURN(bool row, seen.Step());
    if (row) {
      response.set_skill_bank_version(seen.Int(1));
      const std::string skill_id = seen.Text(0);
      if (!skill_id.empty()) {
        Stmt s(db_, absl::StrCat("SELECT ", kSkillColumns, " FROM skills WHERE skill_id = ?").c_str());
        s.Bind(1, skill_id);
        ASSIGN_OR_RETURN(bool found, s.Step());
        if (found) *response.mutable_skill() = ReadSkill(s);
      }
      return response;
    }
  }
  std::vector<skillsd::v1::Skill> skills;
  {
    Stmt s(db_, absl::StrCat("SELECT ", kSkillColumns, " FROM skills WHERE task_id = ? ORDER BY seq").c_str());
    s.Bind(1, task_id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      skills.push_back(ReadSkill(s));
    }
  }
  response.set_skill_bank_version(static_cast<int64_t>(skills.size()));
  int best = -1;
  double best_score = -std::numeric_limits<double>::infinity();
  int64_t total = 0;
  for (const auto& s : skills) total += s.stats().selections();
  for (size_t i = 0; i < skills.size(); ++i) {
    const auto& st = skills[i].stats();
    if (st.selections() == 0) {  // never tried: first, oldest first
      best = static_cast<int>(i);
      break;
    }
    const double score =
        st.mean_reward() + ucb_c_ * std::sqrt(std::log(static_cast<double>(std::max<int64_t>(total, 1))) /
                                              static_cast<double>(st.selections()));
    if (score > best_score) {
      best_score = score;
      best = static_cast<int>(i);
    }
  }
  std::string chosen;
  if (best >= 0) {
    chosen = skills[best].skill_id();
    Stmt count(db_, "UPDATE skills SET selections = selections + 1 WHERE skill_id = ?");
    RETURN_IF_ERROR(count.Bind(1, chosen).Run());
    *response.mutable_skill() = skills[best];
    response.mutable_skill()->mutable_stats()->set_selections(skills[best].stats().selections() + 1);
  }
  if (!selection_id.empty()) {
    Stmt record(db_, "INSERT INTO selections (selection_id, task_id, skill_id, bank_size) VALUES (?, ?, ?, ?)");
    RETURN_IF_ERROR(record.Bind(1, selection_id)
                        .Bind(2, task_id)
                        .Bind(3, chosen)
                        .Bind(4, static_cast<int64_t>(skills.size()))
                        .Run());
  }
  RETURN_IF_ERROR(tx.Commit());
  return response;
}

absl::Status SkillBank::AddCredit(const std::string& skill_id, double reward) {
  Stmt s(db_, "UPDATE skills SET outcomes = outcomes + 1, reward_sum = reward_sum + ? WHERE skill_id = ?");
  return s.Bind(1, reward).Bind(2, skill_id).Run();
}

absl::Status SkillBank::ReportOutcome(const skillsd::v1::ReportOutcomeRequest& request) {
  if (request.group_id().empty() || request.task_id().empty()) {
    return absl::InvalidArgumentError("group_id and task_id are required");
  }
  if (!std::isfinite(request.mean_reward())) return absl::InvalidArgumentError("mean_reward: not finite");
  absl::MutexLock lock(&mu_);
  Transaction tx(db_);
  Stmt seen(db_, "INSERT OR IGNORE INTO outcomes (group_id) VALUES (?)");
  RETURN_IF_ERROR(seen.Bind(1, request.group_id()).Run());
  if (sqlite3_changes(db_) == 0) return absl::OkStatus();  // counted before
  if (credit_ == Credit::kSameGroup) {
    if (!request.skill_id().empty()) RETURN_IF_ERROR(AddCredit(request.skill_id(), request.mean_reward()));
  } else {
    // next_group: this group's reward goes to the skill the task's previous group used.
    Stmt pending(db_, "SELECT skill_id FROM pending_credit WHERE task_id = ?");
    pending.Bind(1, request.task_id());
    ASSIGN_OR_RETURN(bool row, pending.Step());
    if (row) RETURN_IF_ERROR(AddCredit(pending.Text(0), request.mean_reward()));
    if (request.skill_id().empty()) {
      Stmt clear(db_, "DELETE FROM pending_credit WHERE task_id = ?");
      RETURN_IF_ERROR(clear.Bind(1, request.task_id()).Run());
    } else {
      Stmt set(db_, "INSERT OR REPLACE INTO pending_credit (task_id, skill_id) VALUES (?, ?)");
      RETURN_IF_ERROR(set.Bind(1, request.task_id()).Bind(2, request.skill_id()).Run());
    }
  }
  return tx.Commit();
}

absl::StatusOr<std::vector<skillsd::v1::Skill>> SkillBank::List(const std::string& task_id, int limit) {
  absl::MutexLock lock(&mu_);
  std::vector<skillsd::v1::Skill> out;
  Stmt s(db_, absl::StrCat("SELECT ", kSkillColumns, " FROM skills WHERE (? = '' OR task_id = ?) ORDER BY seq LIMIT ?")
                  .c_str());
  s.Bind(1, task_id).Bind(2, task_id).Bind(3, static_cast<int64_t>(limit > 0 ? limit : 1000));
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReadSkill(s));
  }
  return out;
}

absl::StatusOr<skillsd::v1::GetSkillStatusResponse> SkillBank::Status() {
  absl::MutexLock lock(&mu_);
  skillsd::v1::GetSkillStatusResponse status;
  Stmt s(db_,
         "SELECT (SELECT COUNT(*) FROM skills), (SELECT COUNT(DISTINCT task_id) FROM skills), "
         "(SELECT COUNT(*) FROM trajectories WHERE state = 0), (SELECT COUNT(*) FROM trajectories WHERE state = 2)");
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (row) {
    status.set_skills(s.Int(0));
    status.set_tasks(s.Int(1));
    status.set_queue_depth(s.Int(2));
    status.set_failed_summaries(s.Int(3));
  }
  return status;
}

}  // namespace skillsd::skill
