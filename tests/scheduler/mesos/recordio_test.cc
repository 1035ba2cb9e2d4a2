#include "scheduler/mesos/recordio.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mast::mesos {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Stream(const std::vector<std::string>& records) {
  std::string out;
  for (const auto& r : records) out += RecordIoEncode(r);
  return out;
}

TEST(RecordIoTest, EncodesAsLengthNewlineData) {
  EXPECT_EQ(RecordIoEncode(std::string("\x08\x08", 2)), std::string("2\n\x08\x08", 4));
  EXPECT_EQ(RecordIoEncode(""), "0\n");
}

TEST(RecordIoTest, DecodesTheReferenceHeartbeatVector) {
  RecordIoDecoder decoder;
  std::vector<std::string> records;
  ASSERT_TRUE(decoder.Feed(std::string("2\n\x08\x08", 4), &records).ok());
  EXPECT_THAT(records, ElementsAre(std::string("\x08\x08", 2)));
  EXPECT_TRUE(decoder.Finish().ok());
}

// Every way of cutting a stream of several records into two and three
// pieces yields the same records.
TEST(RecordIoTest, EverySplitAcrossChunkBoundariesDecodesTheSame) {
  const std::vector<std::string> expected = {"a", std::string(300, 'x'), "", "hello\nworld",
                                             std::string("\0\1\2", 3)};
  const std::string stream = Stream(expected);
  for (size_t i = 0; i <= stream.size(); ++i) {
    for (size_t j = i; j <= stream.size(); j += 7) {
      RecordIoDecoder decoder;
      std::vector<std::string> records;
      ASSERT_TRUE(decoder.Feed(stream.substr(0, i), &records).ok());
      ASSERT_TRUE(decoder.Feed(stream.substr(i, j - i), &records).ok());
      ASSERT_TRUE(decoder.Feed(stream.substr(j), &records).ok());
      ASSERT_EQ(records, expected) << "split at " << i << "," << j;
      EXPECT_TRUE(decoder.Finish().ok());
    }
  }
}

TEST(RecordIoTest, ByteAtATime) {
  const std::vector<std::string> expected = {"first", "second record"};
  const std::string stream = Stream(expected);
  RecordIoDecoder decoder;
  std::vector<std::string> records;
  for (char c : stream) ASSERT_TRUE(decoder.Feed(absl::string_view(&c, 1), &records).ok());
  EXPECT_EQ(records, expected);
}

TEST(RecordIoTest, SkipsEmptyLinesBeforeALength) {
  RecordIoDecoder decoder;
  std::vector<std::string> records;
  ASSERT_TRUE(decoder.Feed("\n\n3\nabc\n1\nz", &records).ok());
  EXPECT_THAT(records, ElementsAre("abc", "z"));
}

TEST(RecordIoTest, NonDigitInALengthIsAStreamError) {
  for (const char* bad : {"x\n", "1a\nb", "-1\n", " 1\na", "1\r\na", "+2\nab"}) {
    RecordIoDecoder decoder;
    std::vector<std::string> records;
    absl::Status status = decoder.Feed(bad, &records);
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << bad;
    EXPECT_THAT(std::string(status.message()), HasSubstr("record length")) << bad;
    EXPECT_TRUE(decoder.failed());
    // A failed decoder stays failed.
    EXPECT_EQ(decoder.Feed("1\na", &records).code(), absl::StatusCode::kDataLoss);
  }
}

TEST(RecordIoTest, OversizeLengthIsRejectedBeforeBuffering) {
  RecordIoDecoder decoder(/*max_record_bytes=*/1000);
  std::vector<std::string> records;
  ASSERT_TRUE(decoder.Feed("1000\n", &records).ok());  // exactly the limit is fine
  RecordIoDecoder small(1000);
  EXPECT_EQ(small.Feed("1001\n", &records).code(), absl::StatusCode::kDataLoss);
  RecordIoDecoder huge;
  EXPECT_EQ(huge.Feed("99999999999999999999999999\n", &records).code(),
            absl::StatusCode::kDataLoss);
}

TEST(RecordIoTest, TruncatedRecordIsReportedAtTheEnd) {
  RecordIoDecoder decoder;
  std::vector<std::string> records;
  ASSERT_TRUE(decoder.Feed("5\nabc", &records).ok());
  EXPECT_TRUE(records.empty());
  EXPECT_EQ(decoder.pending_bytes(), 3u);
  EXPECT_EQ(decoder.Finish().code(), absl::StatusCode::kDataLoss);
  RecordIoDecoder in_length;
  ASSERT_TRUE(in_length.Feed("12", &records).ok());
  EXPECT_EQ(in_length.Finish().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace mast::mesos
