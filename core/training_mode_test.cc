#include "core/training_mode.h"

#include <string>

#include "absl/strings/ascii.h"
#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skillsd/v1/common.pb.h"

namespace skillsd {
namespace {

using ::skillsd::testing::StatusIs;
using ::testing::HasSubstr;

TEST(TrainingModeTest, NamesRoundTrip) {
  for (const char* name :
       {"grpo", "opd", "skill_augmented_grpo", "skill_sd", "skill_sd_frozen", "skill_sd_offpolicy"}) {
    ASSERT_OK_AND_ASSIGN(TrainingMode mode, ParseTrainingMode(name));
    EXPECT_EQ(TrainingModeName(mode), name);
    EXPECT_EQ(Traits(mode).mode, mode);
  }
  EXPECT_THAT(ParseTrainingMode("ppo"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("skill_sd_frozen")));
}

// Every row names the proto value of the same name, and every proto value but UNSPECIFIED has a row.
TEST(TrainingModeTest, ProtoNumbersMatchTheProtoEnum) {
  for (const ModeTraits& m : AllModes()) {
    ASSERT_TRUE(skillsd::v1::TrainingMode_IsValid(m.proto_number)) << m.name;
    EXPECT_EQ(skillsd::v1::TrainingMode_Name(static_cast<skillsd::v1::TrainingMode>(m.proto_number)),
              "TRAINING_MODE_" + absl::AsciiStrToUpper(m.name));
    ASSERT_OK_AND_ASSIGN(TrainingMode back, TrainingModeFromProtoNumber(m.proto_number));
    EXPECT_EQ(back, m.mode);
  }
  const auto* descriptor = skillsd::v1::TrainingMode_descriptor();
  EXPECT_EQ(static_cast<size_t>(descriptor->value_count()), AllModes().size() + 1);
  EXPECT_THAT(TrainingModeFromProtoNumber(skillsd::v1::TRAINING_MODE_UNSPECIFIED),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(TrainingModeFromProtoNumber(99), StatusIs(absl::StatusCode::kInvalidArgument));
}

// The SPEC §5 table, row by row.
TEST(TrainingModeTest, TableFollowsTheSpec) {
  const ModeTraits& grpo = Traits(TrainingMode::kGrpo);
  EXPECT_FALSE(grpo.needs_teacher || grpo.uses_skills || grpo.student_sees_skill);
  EXPECT_EQ(grpo.SdlCoef(0.5), 0.0);
  const ModeTraits& opd = Traits(TrainingMode::kOpd);
  EXPECT_TRUE(opd.needs_teacher && opd.teacher_frozen);
  EXPECT_EQ(opd.grpo_coef, 0.0);
  EXPECT_EQ(opd.SdlCoef(0.5), 1.0);
  const ModeTraits& augmented = Traits(TrainingMode::kSkillAugmentedGrpo);
  EXPECT_TRUE(augmented.student_sees_skill && augmented.trains_on_skill && !augmented.needs_teacher);
  const ModeTraits& sd = Traits(TrainingMode::kSkillSd);
  EXPECT_TRUE(sd.needs_teacher && !sd.teacher_frozen && !sd.student_sees_skill);
  EXPECT_EQ(sd.SdlCoef(0.5), 0.5);
  EXPECT_TRUE(Traits(TrainingMode::kSkillSdFrozen).teacher_frozen);
  const ModeTraits& off = Traits(TrainingMode::kSkillSdOffPolicy);
  EXPECT_TRUE(off.rollouts_from_teacher && off.student_sees_skill && !off.trains_on_skill);
  for (const ModeTraits& m : AllModes()) {
    // Consistency: a teacher distils skills; a skill in the trained prompt was in the sampled one.
    if (m.needs_teacher) EXPECT_TRUE(m.uses_skills) << m.name;
    if (m.trains_on_skill || m.rollouts_from_teacher) EXPECT_TRUE(m.student_sees_skill) << m.name;
    EXPECT_EQ(m.needs_teacher, m.SdlCoef(0.5) > 0) << m.name;
  }
}

}  // namespace
}  // namespace skillsd
