// Wire compatibility of Mast's copy of the Mesos v1 protos
// (proto/mesos/v1/mesos.proto, proto/mesos/v1/scheduler/scheduler.proto) with
// Apache Mesos: exact bytes from the digest's test vectors (generated with
// `protoc --encode` from the real files), JSON with proto field names, and the
// field numbers, types and defaults that are easy to get wrong.

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "mesos/v1/mesos.pb.h"
#include "mesos/v1/scheduler/scheduler.pb.h"

namespace mast {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::util::JsonPrintOptions;
using google::protobuf::util::JsonStringToMessage;
using google::protobuf::util::MessageDifferencer;
using google::protobuf::util::MessageToJsonString;
using ::mesos::v1::scheduler::Call;
using ::mesos::v1::scheduler::Event;

std::string Bytes(std::initializer_list<uint8_t> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

std::string Hex(const std::string& s) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (!out.empty()) out += ' ';
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

// RecordIO framing of the event stream: decimal length, LF, data.
std::string Record(const std::string& data) { return std::to_string(data.size()) + "\n" + data; }

JsonPrintOptions ProtoNames() {
  JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  return options;
}

const FieldDescriptor* Field(const Descriptor* message, const char* name) {
  const FieldDescriptor* field = message->FindFieldByName(name);
  EXPECT_NE(field, nullptr) << message->full_name() << "." << name;
  return field;
}

// ---------------------------------------------------------------------------
// (a) Test vectors of the digest, §1.2.
// ---------------------------------------------------------------------------

TEST(MesosWireTest, HeartbeatEventMatchesTestVector) {
  Event event;
  event.set_type(Event::HEARTBEAT);
  const std::string expected = Bytes({0x08, 0x08});
  EXPECT_EQ(Hex(event.SerializeAsString()), Hex(expected));
  EXPECT_EQ(Record(event.SerializeAsString()), "2\n" + expected);

  Event parsed;
  ASSERT_TRUE(parsed.ParseFromString(expected));
  EXPECT_TRUE(parsed.has_type());
  EXPECT_EQ(parsed.type(), Event::HEARTBEAT);
}

TEST(MesosWireTest, SubscribedEventMatchesTestVector) {
  Event event;
  event.set_type(Event::SUBSCRIBED);
  event.mutable_subscribed()->mutable_framework_id()->set_value("fw-0000");
  event.mutable_subscribed()->set_heartbeat_interval_seconds(15);
  const std::string expected =
      Bytes({0x08, 0x01, 0x12, 0x14, 0x0a, 0x09, 0x0a, 0x07, 0x66, 0x77, 0x2d, 0x30,
             0x30, 0x30, 0x30, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2e, 0x40});
  EXPECT_EQ(Hex(event.SerializeAsString()), Hex(expected));
  EXPECT_EQ(Record(event.SerializeAsString()), "24\n" + expected);

  Event parsed;
  ASSERT_TRUE(parsed.ParseFromString(expected));
  EXPECT_EQ(parsed.type(), Event::SUBSCRIBED);
  ASSERT_TRUE(parsed.has_subscribed());
  EXPECT_EQ(parsed.subscribed().framework_id().value(), "fw-0000");
  EXPECT_EQ(parsed.subscribed().heartbeat_interval_seconds(), 15.0);
  EXPECT_FALSE(parsed.subscribed().has_master_info());
}

TEST(MesosWireTest, SubscribeCallMatchesTestVector) {
  Call call;
  call.set_type(Call::SUBSCRIBE);
  ::mesos::v1::FrameworkInfo* info = call.mutable_subscribe()->mutable_framework_info();
  info->set_user("u");
  info->set_name("n");
  const std::string expected =
      Bytes({0x10, 0x01, 0x1a, 0x08, 0x0a, 0x06, 0x0a, 0x01, 0x75, 0x12, 0x01, 0x6e});
  ASSERT_EQ(expected.size(), 12u);
  EXPECT_EQ(Hex(call.SerializeAsString()), Hex(expected));

  Call parsed;
  ASSERT_TRUE(parsed.ParseFromString(expected));
  EXPECT_FALSE(parsed.has_framework_id());
  EXPECT_EQ(parsed.type(), Call::SUBSCRIBE);
  EXPECT_EQ(parsed.subscribe().framework_info().user(), "u");
  EXPECT_EQ(parsed.subscribe().framework_info().name(), "n");
  EXPECT_FALSE(parsed.subscribe().framework_info().has_failover_timeout());
}

// A binary event of a type this build does not know reads as UNKNOWN and is
// kept as an unknown field (digest §3.1): re-serializing gives the same bytes.
TEST(MesosWireTest, UnknownEventTypeReadsAsUnknownAndIsPreserved) {
  const std::string wire = Bytes({0x08, 0x63});  // type = 99
  Event parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  EXPECT_FALSE(parsed.has_type());
  EXPECT_EQ(parsed.type(), Event::UNKNOWN);
  EXPECT_EQ(Hex(parsed.SerializeAsString()), Hex(wire));
}

// Messages declared without fields keep what a real master sends in them.
TEST(MesosWireTest, ContentOfUnexpandedMessagesIsPreserved) {
  // ContainerStatus{cgroup_info (2): {field 1 (message): {field 1 varint 7}}}
  const std::string wire = Bytes({0x12, 0x04, 0x0a, 0x02, 0x08, 0x07});
  ::mesos::v1::ContainerStatus parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  EXPECT_TRUE(parsed.has_cgroup_info());
  EXPECT_EQ(Hex(parsed.SerializeAsString()), Hex(wire));
}

// Volume.Source, expanded from Mesos 1.11's mesos.proto (not in the
// digest): a sandbox path and a secret volume, byte for byte.
TEST(MesosWireTest, VolumeSourcesMatchMesosFieldNumbers) {
  using ::mesos::v1::Volume;
  Volume sandbox;
  sandbox.set_container_path("c");
  sandbox.set_mode(Volume::RW);
  sandbox.mutable_source()->set_type(Volume::Source::SANDBOX_PATH);
  sandbox.mutable_source()->mutable_sandbox_path()->set_type(Volume::Source::SandboxPath::SELF);
  sandbox.mutable_source()->mutable_sandbox_path()->set_path("p");
  // container_path (1) "c", mode (3) RW=1, source (5) {type (1) SANDBOX_PATH=2,
  // sandbox_path (3) {type (1) SELF=1, path (2) "p"}}.
  EXPECT_EQ(Hex(sandbox.SerializeAsString()),
            Hex(Bytes({0x0a, 0x01, 'c', 0x18, 0x01, 0x2a, 0x09, 0x08, 0x02, 0x1a, 0x05, 0x08, 0x01,
                       0x12, 0x01, 'p'})));
  Volume::Source secret;
  secret.set_type(Volume::Source::SECRET);
  secret.mutable_secret()->set_type(::mesos::v1::Secret::VALUE);
  secret.mutable_secret()->mutable_value()->set_data("x");
  // type (1) SECRET=3, secret (4) {type (1) VALUE=2, value (3) {data (1) "x"}}.
  EXPECT_EQ(Hex(secret.SerializeAsString()),
            Hex(Bytes({0x08, 0x03, 0x22, 0x07, 0x08, 0x02, 0x1a, 0x03, 0x0a, 0x01, 'x'})));
  Volume::Source host;
  host.set_type(Volume::Source::HOST_PATH);
  host.mutable_host_path()->set_path("/h");
  // type (1) HOST_PATH=4, host_path (5) {path (1) "/h"}.
  EXPECT_EQ(Hex(host.SerializeAsString()),
            Hex(Bytes({0x08, 0x04, 0x2a, 0x04, 0x0a, 0x02, '/', 'h'})));
}

// ---------------------------------------------------------------------------
// (b), (c) JSON with exact proto field names (digest §7).
// ---------------------------------------------------------------------------

TEST(MesosWireTest, ErrorEventJsonUsesProtoFieldNames) {
  Event event;
  event.set_type(Event::ERROR);
  event.mutable_error()->set_message("Framework failed over");

  std::string json;
  ASSERT_TRUE(MessageToJsonString(event, &json, ProtoNames()).ok());
  EXPECT_EQ(json, R"({"type":"ERROR","error":{"message":"Framework failed over"}})");

  Event parsed;
  ASSERT_TRUE(JsonStringToMessage(json, &parsed).ok());
  EXPECT_EQ(parsed.type(), Event::ERROR);
  EXPECT_EQ(parsed.error().message(), "Framework failed over");
  EXPECT_TRUE(MessageDifferencer::Equals(parsed, event));
}

TEST(MesosWireTest, SubscribeCallParsesFromJson) {
  const std::string json =
      R"({"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n",)"
      R"("roles":["*"],"capabilities":[{"type":"MULTI_ROLE"}],"failover_timeout":604800,)"
      R"("checkpoint":true}}})";
  Call call;
  ASSERT_TRUE(JsonStringToMessage(json, &call).ok());
  EXPECT_EQ(call.type(), Call::SUBSCRIBE);
  EXPECT_FALSE(call.has_framework_id());
  ASSERT_TRUE(call.has_subscribe());
  const ::mesos::v1::FrameworkInfo& info = call.subscribe().framework_info();
  EXPECT_EQ(info.user(), "u");
  EXPECT_EQ(info.name(), "n");
  ASSERT_EQ(info.roles_size(), 1);
  EXPECT_EQ(info.roles(0), "*");
  ASSERT_EQ(info.capabilities_size(), 1);
  EXPECT_EQ(info.capabilities(0).type(), ::mesos::v1::FrameworkInfo::Capability::MULTI_ROLE);
  EXPECT_EQ(info.failover_timeout(), 604800.0);
  EXPECT_TRUE(info.checkpoint());

  // And back: proto field names, enum names.
  std::string out;
  ASSERT_TRUE(MessageToJsonString(call, &out, ProtoNames()).ok());
  EXPECT_NE(out.find(R"("framework_info":{)"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("capabilities":[{"type":"MULTI_ROLE"}])"), std::string::npos) << out;
}

// Like a real master, a body missing a proto2 required field does not parse.
TEST(MesosWireTest, JsonMissingRequiredFieldIsRejected) {
  Call call;
  EXPECT_FALSE(JsonStringToMessage(
                   R"({"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"n"}}})", &call)
                   .ok());
}

// TaskInfo.limits is a map<string, Value.Scalar>: its JSON values are objects.
TEST(MesosWireTest, TaskInfoLimitsParseFromJson) {
  const std::string json = R"({"name":"t","task_id":{"value":"t1"},"agent_id":{"value":"a1"},)"
                           R"("limits":{"cpus":{"value":"Infinity"},"mem":{"value":512}}})";
  ::mesos::v1::TaskInfo task;
  ASSERT_TRUE(JsonStringToMessage(json, &task).ok());
  ASSERT_EQ(task.limits().count("cpus"), 1u);
  ASSERT_EQ(task.limits().count("mem"), 1u);
  EXPECT_EQ(task.limits().at("cpus").value(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(task.limits().at("mem").value(), 512.0);
}

// ---------------------------------------------------------------------------
// (d) Field numbers, types, labels and defaults.
// ---------------------------------------------------------------------------

TEST(MesosWireTest, CallAndEventFieldNumbersDifferFromTypeNumbers) {
  const Descriptor* call = Call::descriptor();
  EXPECT_EQ(call->full_name(), "mesos.v1.scheduler.Call");
  EXPECT_EQ(Field(call, "framework_id")->number(), 1);
  EXPECT_EQ(Field(call, "type")->number(), 2);
  EXPECT_EQ(Field(call, "request")->number(), 11);
  EXPECT_EQ(call->FindFieldByNumber(12), nullptr);
  EXPECT_EQ(Field(call, "accept_inverse_offers")->number(), 13);
  EXPECT_EQ(Field(call, "decline_inverse_offers")->number(), 14);
  EXPECT_EQ(Field(call, "revive")->number(), 15);
  EXPECT_EQ(Field(call, "suppress")->number(), 16);
  EXPECT_EQ(Field(call, "acknowledge_operation_status")->number(), 17);
  EXPECT_EQ(Field(call, "reconcile_operations")->number(), 18);
  EXPECT_EQ(Field(call, "update_framework")->number(), 19);
  EXPECT_EQ(Call::REVIVE, 5);
  EXPECT_EQ(Call::SUPPRESS, 12);
  EXPECT_EQ(Call::UPDATE_FRAMEWORK, 17);

  const Descriptor* event = Event::descriptor();
  EXPECT_EQ(Field(event, "error")->number(), 8);
  EXPECT_EQ(Event::ERROR, 7);
  EXPECT_EQ(Event::HEARTBEAT, 8);
  EXPECT_EQ(Field(event, "inverse_offers")->number(), 9);
  EXPECT_EQ(Field(event, "rescind_inverse_offer")->number(), 10);
  EXPECT_EQ(Field(event, "update_operation_status")->number(), 11);

  const FieldDescriptor* ack_uuid = Field(Call::Acknowledge::descriptor(), "uuid");
  EXPECT_EQ(ack_uuid->number(), 3);
  EXPECT_EQ(ack_uuid->type(), FieldDescriptor::TYPE_BYTES);
  EXPECT_TRUE(ack_uuid->is_required());
  EXPECT_TRUE(Field(Call::Subscribe::descriptor(), "framework_info")->is_required());
  EXPECT_EQ(Field(Call::Request::descriptor(), "requests")->message_type()->full_name(),
            "mesos.v1.Request");
}

TEST(MesosWireTest, TaskFieldsAndStatusFields) {
  const FieldDescriptor* uuid = Field(::mesos::v1::TaskStatus::descriptor(), "uuid");
  EXPECT_EQ(uuid->number(), 11);
  EXPECT_EQ(uuid->type(), FieldDescriptor::TYPE_BYTES);
  EXPECT_EQ(uuid->label(), FieldDescriptor::LABEL_OPTIONAL);
  EXPECT_EQ(Field(::mesos::v1::TaskStatus::descriptor(), "limitation")->number(), 16);
  EXPECT_EQ(Field(::mesos::v1::OperationStatus::descriptor(), "uuid")->message_type()->full_name(),
            "mesos.v1.UUID");

  const FieldDescriptor* limits = Field(::mesos::v1::TaskInfo::descriptor(), "limits");
  EXPECT_EQ(limits->number(), 15);
  EXPECT_TRUE(limits->is_map());
  EXPECT_EQ(limits->message_type()->map_key()->type(), FieldDescriptor::TYPE_STRING);
  EXPECT_EQ(limits->message_type()->map_value()->message_type()->full_name(),
            "mesos.v1.Value.Scalar");

  const Descriptor* executor = ::mesos::v1::ExecutorInfo::descriptor();
  EXPECT_EQ(Field(executor, "data")->number(), 4);
  EXPECT_EQ(Field(executor, "command")->number(), 7);
  EXPECT_EQ(Field(executor, "type")->number(), 15);
}

TEST(MesosWireTest, ValueAttributeAndResourceNumbering) {
  const Descriptor* attribute = ::mesos::v1::Attribute::descriptor();
  EXPECT_EQ(Field(attribute, "text")->number(), 5);
  EXPECT_EQ(Field(attribute, "set")->number(), 6);
  const Descriptor* value = ::mesos::v1::Value::descriptor();
  EXPECT_EQ(Field(value, "set")->number(), 4);
  EXPECT_EQ(Field(value, "text")->number(), 5);
  const Descriptor* resource = ::mesos::v1::Resource::descriptor();
  EXPECT_EQ(Field(resource, "set")->number(), 5);
  EXPECT_EQ(resource->FindFieldByName("text"), nullptr);
  EXPECT_EQ(Field(resource, "reservations")->number(), 13);
  EXPECT_TRUE(Field(resource, "reservations")->is_repeated());
  EXPECT_EQ(::mesos::v1::Value::SCALAR, 0);
  EXPECT_EQ(::mesos::v1::Value().type(), ::mesos::v1::Value::SCALAR);
}

TEST(MesosWireTest, ExplicitDefaults) {
  const FieldDescriptor* failover =
      Field(::mesos::v1::FrameworkInfo::descriptor(), "failover_timeout");
  EXPECT_TRUE(failover->has_default_value());
  EXPECT_EQ(failover->default_value_double(), 0.0);
  const FieldDescriptor* refuse = Field(::mesos::v1::Filters::descriptor(), "refuse_seconds");
  EXPECT_TRUE(refuse->has_default_value());
  EXPECT_EQ(refuse->default_value_double(), 5.0);
  EXPECT_EQ(::mesos::v1::Filters().refuse_seconds(), 5.0);

  // Deprecated role fields default to "*" (checked through the descriptor: the
  // generated accessors are marked deprecated).
  for (const Descriptor* d :
       {::mesos::v1::FrameworkInfo::descriptor(), ::mesos::v1::Resource::descriptor()}) {
    const FieldDescriptor* role = Field(d, "role");
    EXPECT_EQ(role->number(), 6);
    EXPECT_EQ(role->default_value_string(), "*");
    EXPECT_TRUE(role->options().deprecated());
  }

  EXPECT_EQ(::mesos::v1::MasterInfo().port(), 5050u);
  EXPECT_TRUE(::mesos::v1::CommandInfo().shell());
  EXPECT_TRUE(::mesos::v1::CommandInfo::URI().extract());
  EXPECT_EQ(::mesos::v1::Environment::Variable().type(), ::mesos::v1::Environment::Variable::VALUE);
  EXPECT_EQ(::mesos::v1::HealthCheck().delay_seconds(), 15.0);
  EXPECT_EQ(::mesos::v1::HealthCheck().interval_seconds(), 10.0);
  EXPECT_EQ(::mesos::v1::HealthCheck().timeout_seconds(), 20.0);
  EXPECT_EQ(::mesos::v1::HealthCheck().consecutive_failures(), 3u);
  EXPECT_EQ(::mesos::v1::HealthCheck().grace_period_seconds(), 10.0);
  EXPECT_EQ(::mesos::v1::Image().cached(), true);

  // Enums without a 0 value: proto2 defaults to the first value.
  EXPECT_EQ(::mesos::v1::ContainerInfo().type(), ::mesos::v1::ContainerInfo::DOCKER);
  EXPECT_EQ(::mesos::v1::ContainerInfo::DOCKER, 1);
  EXPECT_EQ(::mesos::v1::ContainerInfo::DockerInfo().network(),
            ::mesos::v1::ContainerInfo::DockerInfo::HOST);
  EXPECT_EQ(::mesos::v1::Image().type(), ::mesos::v1::Image::APPC);
  EXPECT_EQ(::mesos::v1::Volume().mode(), ::mesos::v1::Volume::RW);
  EXPECT_EQ(::mesos::v1::NetworkInfo::IPAddress().protocol(), ::mesos::v1::NetworkInfo::IPv4);
  EXPECT_EQ(::mesos::v1::HealthCheck::TCPCheckInfo().protocol(), ::mesos::v1::NetworkInfo::IPv4);
}

TEST(MesosWireTest, NestingAndOneofs) {
  EXPECT_EQ(::mesos::v1::Offer::Operation::Launch::descriptor()->full_name(),
            "mesos.v1.Offer.Operation.Launch");
  EXPECT_EQ(::mesos::v1::TaskStatus::Reason_descriptor()->full_name(),
            "mesos.v1.TaskStatus.Reason");
  EXPECT_EQ(::mesos::v1::FrameworkInfo::Capability::Type_descriptor()->full_name(),
            "mesos.v1.FrameworkInfo.Capability.Type");
  EXPECT_EQ(::mesos::v1::TaskStatus::REASON_AGENT_DRAINING, 34);
  EXPECT_EQ(::mesos::v1::TASK_UNKNOWN, 13);
  EXPECT_EQ(::mesos::v1::OPERATION_UNKNOWN, 9);

  using ::mesos::v1::scheduler::AttributeConstraint;
  const Descriptor* selector = AttributeConstraint::Selector::descriptor();
  ASSERT_EQ(selector->oneof_decl_count(), 1);
  EXPECT_EQ(selector->oneof_decl(0)->name(), "selector");
  EXPECT_EQ(selector->oneof_decl(0)->field_count(), 2);
  const Descriptor* predicate = AttributeConstraint::Predicate::descriptor();
  ASSERT_EQ(predicate->oneof_decl_count(), 1);
  EXPECT_EQ(predicate->oneof_decl(0)->name(), "predicate");
  EXPECT_EQ(predicate->oneof_decl(0)->field_count(), 6);
  EXPECT_EQ(Field(predicate, "text_not_matches")->number(), 6);

  AttributeConstraint::Selector s;
  s.set_pseudoattribute_type(AttributeConstraint::Selector::ZONE);
  s.set_attribute_name("rack");  // replaces the other member of the oneof
  EXPECT_EQ(s.selector_case(), AttributeConstraint::Selector::kAttributeName);
  EXPECT_EQ(Hex(s.SerializeAsString()), Hex(Bytes({0x12, 0x04, 'r', 'a', 'c', 'k'})));

  const FieldDescriptor* constraints =
      Field(::mesos::v1::scheduler::OfferConstraints::descriptor(), "role_constraints");
  EXPECT_TRUE(constraints->is_map());
  EXPECT_EQ(Field(Call::Subscribe::descriptor(), "offer_constraints")->message_type(),
            ::mesos::v1::scheduler::OfferConstraints::descriptor());
}

// ---------------------------------------------------------------------------
// (e) TaskStatus with a 16-byte binary uuid.
// ---------------------------------------------------------------------------

TEST(MesosWireTest, TaskStatusWithBinaryUuidRoundTrips) {
  const std::string uuid = Bytes({0x00, 0xff, 0x10, 0x0a, 0x80, 0x7f, 0x00, 0x01, 0xde, 0xad, 0xbe,
                                  0xef, 0x0d, 0x0a, 0xc3, 0x28});
  ASSERT_EQ(uuid.size(), 16u);
  ::mesos::v1::TaskStatus status;
  status.mutable_task_id()->set_value("t1");
  status.set_state(::mesos::v1::TASK_RUNNING);
  status.set_uuid(uuid);

  const std::string wire = status.SerializeAsString();
  // task_id (1) {value: "t1"}, state (2) = 1, uuid (11) = 16 bytes.
  EXPECT_EQ(Hex(wire),
            Hex(Bytes({0x0a, 0x04, 0x0a, 0x02, 't', '1', 0x10, 0x01, 0x5a, 0x10}) + uuid));

  ::mesos::v1::TaskStatus parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  EXPECT_EQ(parsed.task_id().value(), "t1");
  EXPECT_EQ(parsed.state(), ::mesos::v1::TASK_RUNNING);
  ASSERT_TRUE(parsed.has_uuid());
  EXPECT_EQ(parsed.uuid().size(), 16u);
  EXPECT_EQ(Hex(parsed.uuid()), Hex(uuid));
  EXPECT_TRUE(MessageDifferencer::Equals(parsed, status));

  // The scheduler acknowledges with the byte-identical uuid.
  Call ack;
  ack.set_type(Call::ACKNOWLEDGE);
  ack.mutable_acknowledge()->mutable_agent_id()->set_value("a1");
  *ack.mutable_acknowledge()->mutable_task_id() = parsed.task_id();
  ack.mutable_acknowledge()->set_uuid(parsed.uuid());
  Call ack_parsed;
  ASSERT_TRUE(ack_parsed.ParseFromString(ack.SerializeAsString()));
  EXPECT_EQ(Hex(ack_parsed.acknowledge().uuid()), Hex(uuid));

  // A TaskStatus without its required state does not parse.
  google::protobuf::LogSilencer silence_missing_fields_error;
  ::mesos::v1::TaskStatus partial;
  EXPECT_FALSE(partial.ParseFromString(Bytes({0x0a, 0x04, 0x0a, 0x02, 't', '1'})));
}

}  // namespace
}  // namespace mast
