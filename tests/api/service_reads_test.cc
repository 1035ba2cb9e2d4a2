#include "api/service_reads.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mast {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

StateSnapshot MakeSnapshot(const std::vector<std::pair<std::string, std::string>>& services) {
  StateSnapshot snapshot;
  snapshot.synced = true;
  snapshot.store_version = 42;
  for (const auto& [name, tier] : services) {
    auto stored = std::make_shared<StoredService>();
    stored->record.mutable_service()->mutable_spec()->set_name(name);
    stored->record.mutable_service()->set_version(3);
    if (!tier.empty()) {
      (*stored->record.mutable_service()->mutable_spec()->mutable_labels())["tier"] = tier;
      (*stored->record.mutable_service()->mutable_spec()->mutable_labels())["team"] = "a";
    }
    snapshot.services[name] = stored;
  }
  return snapshot;
}

std::vector<std::string> Names(const v1::ListServicesResponse& response) {
  std::vector<std::string> names;
  for (const auto& s : response.services()) names.push_back(s.spec().name());
  return names;
}

TEST(ParseLabelSelectorTest, ParsesPairsAndRefusesMalformedItems) {
  auto parsed = ParseLabelSelector(" tier=web , team=a,,empty=");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(*parsed, ElementsAre(Pair("tier", "web"), Pair("team", "a"), Pair("empty", "")));
  EXPECT_TRUE(ParseLabelSelector("").ok());

  struct Case {
    const char* selector;
    const char* message;
  };
  for (const Case& c : {Case{"tier", "is not key=value"}, Case{"a=b,=x", "has an empty key"}}) {
    auto bad = ParseLabelSelector(c.selector);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << c.selector;
    EXPECT_THAT(bad.status().message(), HasSubstr("label_selector: ")) << c.selector;
    EXPECT_THAT(bad.status().message(), HasSubstr(c.message)) << c.selector;
  }
}

TEST(ServiceReadsTest, NothingIsAnsweredBeforeTheFirstLoad) {
  StateSnapshot empty;
  v1::GetServiceResponse get;
  EXPECT_EQ(FillGetService(empty, {}, &get).code(), absl::StatusCode::kUnavailable);
  v1::ListServicesResponse list;
  EXPECT_EQ(FillListServices(empty, {}, &list).code(), absl::StatusCode::kUnavailable);
  // A loaded store that is empty is an answer.
  empty.synced = true;
  EXPECT_TRUE(FillListServices(empty, {}, &list).ok());
  // A stale view (resyncing) is served with its version.
  StateSnapshot stale = MakeSnapshot({{"a", ""}});
  stale.synced = false;
  v1::GetServiceRequest request;
  request.set_name("a");
  EXPECT_TRUE(FillGetService(stale, request, &get).ok());
  EXPECT_EQ(get.store_version(), 42);
}

TEST(ServiceReadsTest, GetServiceFindsByNameWithTheStoreVersion) {
  StateSnapshot snapshot = MakeSnapshot({{"team/web", "web"}});
  v1::GetServiceRequest request;
  request.set_name("team/web");
  v1::GetServiceResponse response;
  ASSERT_TRUE(FillGetService(snapshot, request, &response).ok());
  EXPECT_EQ(response.service().spec().name(), "team/web");
  EXPECT_EQ(response.service().version(), 3u);
  EXPECT_EQ(response.store_version(), 42);

  request.set_name("team/db");
  absl::Status missing = FillGetService(snapshot, request, &response);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("team/db"));

  // Present but unreadable: DATA_LOSS naming the znode, not NOT_FOUND.
  snapshot.corrupt.push_back({"/mast/state/services/team%2Fdb", "bad protobuf"});
  absl::Status corrupt = FillGetService(snapshot, request, &response);
  EXPECT_EQ(corrupt.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(corrupt.message(), HasSubstr("/mast/state/services/team%2Fdb"));
}

TEST(ServiceReadsTest, ListFiltersByPrefixAndLabels) {
  StateSnapshot snapshot = MakeSnapshot(
      {{"a/x", "web"}, {"b/one", "web"}, {"b/two", "db"}, {"b/three", ""}, {"c", "web"}});
  struct Case {
    std::string prefix;
    std::string selector;
    std::vector<std::string> want;
  };
  for (const Case& c : std::vector<Case>{
           {"", "", {"a/x", "b/one", "b/three", "b/two", "c"}},
           {"b/", "", {"b/one", "b/three", "b/two"}},
           {"b/", "tier=web", {"b/one"}},
           {"", "tier=web,team=a", {"a/x", "b/one", "c"}},
           {"", "tier=none", {}},
           {"zzz", "", {}},
       }) {
    v1::ListServicesRequest request;
    request.set_prefix(c.prefix);
    request.set_label_selector(c.selector);
    v1::ListServicesResponse response;
    ASSERT_TRUE(FillListServices(snapshot, request, &response).ok());
    EXPECT_EQ(Names(response), c.want) << c.prefix << " " << c.selector;
    EXPECT_EQ(response.next_page_token(), "");
    EXPECT_EQ(response.store_version(), 42);
  }
  v1::ListServicesRequest bad;
  bad.set_label_selector("tier");
  v1::ListServicesResponse response;
  EXPECT_EQ(FillListServices(snapshot, bad, &response).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ServiceReadsTest, ListPagesThroughEveryMatchOnce) {
  StateSnapshot snapshot = MakeSnapshot(
      {{"a", "web"}, {"b", "db"}, {"c", "web"}, {"d", "web"}, {"e", "web"}, {"f", "web"}});
  v1::ListServicesRequest request;
  request.set_label_selector("tier=web");
  request.set_page_size(2);
  std::vector<std::vector<std::string>> pages;
  for (int i = 0; i < 10; ++i) {
    v1::ListServicesResponse response;
    ASSERT_TRUE(FillListServices(snapshot, request, &response).ok());
    pages.push_back(Names(response));
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  EXPECT_THAT(pages, ElementsAre(ElementsAre("a", "c"), ElementsAre("d", "e"), ElementsAre("f")));

  request.set_page_size(kMaxPageSize + 1);
  v1::ListServicesResponse response;
  absl::Status too_big = FillListServices(snapshot, request, &response);
  EXPECT_EQ(too_big.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(too_big.message(), HasSubstr("page_size"));
}

}  // namespace
}  // namespace mast
