#include "api/secret_redaction.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mast {
namespace {

using ::testing::HasSubstr;

v1::ServiceSpec SpecWithSecrets() {
  v1::ServiceSpec spec;
  spec.set_name("team/web");
  (*spec.mutable_secrets())["db"].set_value("hunter2");
  (*spec.mutable_secrets())["api"].mutable_reference()->set_name("/team/api");
  (*spec.mutable_secret_env())["DB_PASSWORD"] = "db";
  return spec;
}

void ExpectRedacted(const v1::ServiceSpec& spec) {
  const v1::Secret& db = spec.secrets().at("db");
  EXPECT_TRUE(db.redacted());
  EXPECT_EQ(db.source_case(), v1::Secret::SOURCE_NOT_SET) << db.value();
  const v1::Secret& api = spec.secrets().at("api");
  EXPECT_FALSE(api.redacted()) << "a reference says where, not what";
  EXPECT_EQ(api.reference().name(), "/team/api");
  EXPECT_EQ(spec.secret_env().at("DB_PASSWORD"), "db");
}

TEST(SecretRedactionTest, EverySpecOfAServiceLosesItsValues) {
  v1::Service service;
  *service.mutable_spec() = SpecWithSecrets();
  *service.mutable_deployment()->mutable_from_spec() = SpecWithSecrets();
  *service.mutable_deployment()->mutable_to_spec() = SpecWithSecrets();
  v1::ListServicesResponse list;
  *list.add_services() = service;
  RedactSecrets(list);
  ExpectRedacted(list.services(0).spec());
  ExpectRedacted(list.services(0).deployment().from_spec());
  ExpectRedacted(list.services(0).deployment().to_spec());

  v1::WatchEvent event;
  *event.mutable_service() = service;
  RedactSecrets(event);
  ExpectRedacted(event.service().spec());
  ExpectRedacted(event.service().deployment().to_spec());

  v1::GetDeploymentResponse deployment;
  *deployment.mutable_deployment() = service.deployment();
  RedactSecrets(deployment);
  ExpectRedacted(deployment.deployment().from_spec());
  EXPECT_EQ(deployment.SerializeAsString().find("hunter2"), std::string::npos);
}

TEST(SecretRedactionTest, AnUpdateKeepsTheStoredValueOfARedactedSecret) {
  const v1::ServiceSpec stored = SpecWithSecrets();
  v1::ServiceSpec sent = stored;
  RedactSecrets(sent);
  (*sent.mutable_secrets())["new"].set_value("fresh");
  ASSERT_TRUE(KeepRedactedSecrets(stored, sent, "spec.").ok());
  EXPECT_EQ(sent.secrets().at("db").value(), "hunter2");
  EXPECT_FALSE(sent.secrets().at("db").redacted());
  EXPECT_EQ(sent.secrets().at("new").value(), "fresh");
  EXPECT_EQ(sent.secrets().at("api").reference().name(), "/team/api");
}

TEST(SecretRedactionTest, ARedactedSecretWithNothingStoredIsInvalid) {
  v1::ServiceSpec stored = SpecWithSecrets();
  v1::ServiceSpec sent;
  (*sent.mutable_secrets())["gone"].set_redacted(true);
  (*sent.mutable_secrets())["db"].set_redacted(true);
  absl::Status status = KeepRedactedSecrets(stored, sent, "spec.");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("spec.secrets['gone']: redacted, but the service holds "
                        "no secret of that name"));
  EXPECT_THAT(std::string(status.message()), ::testing::Not(HasSubstr("'db'")));

  v1::ServiceSpec created;
  (*created.mutable_secrets())["db"].set_redacted(true);
  status = RefuseRedactedSecrets(created, "spec.");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("spec.secrets['db']: redacted: a new service needs"));
  EXPECT_TRUE(RefuseRedactedSecrets(stored, "spec.").ok());
}

}  // namespace
}  // namespace mast
