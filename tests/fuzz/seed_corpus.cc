// fuzz_seed_corpus OUT_DIR: writes the seed corpora of the fuzz targets,
// OUT_DIR/<target>/<name>, the files committed in tests/fuzz/corpus/.
//
// For each unary RPC of each service two inputs: the empty request, and a
// request with every field set to a plausible value (ids as placeholders
// "@obj0", "@kr1", ... that fuzz_stack.h maps to the bootstrapped retail
// organisation's objects, enums at their first real value, one element per
// repeated field, the first member of each oneof). For fuzz_plan_csv the
// example plans in examples/ and a few small files. The output is the same
// on every run, so regenerating changes no committed file.
//
// Regenerate with:
//   build/bin/fuzz_seed_corpus tests/fuzz/corpus
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "tests/fuzz/fuzz_stack.h"

namespace okr::fuzz {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr int kMaxFillDepth = 4;

// The id prefix (services/planning/org_state.cc, services/notify) a field
// named `<name>_id` or a message's own `id` refers to.
absl::string_view PrefixFor(absl::string_view name) {
  static const auto* prefixes = new absl::flat_hash_map<std::string, std::string>{
      {"objective", "obj"},  {"parent_objective", "obj"}, {"source_objective", "obj"},
      {"key_result", "kr"},  {"parent_key_result", "kr"}, {"cycle", "cycle"},
      {"target_cycle", "cycle"}, {"parent_cycle", "cycle"}, {"owner", "person"},
      {"person", "person"},  {"author", "person"},       {"reviewer", "person"},
      {"team", "team"},      {"parent_team", "team"},    {"check_in", "ci"},
      {"review", "rv"},      {"webhook", "wh"},          {"Objective", "obj"},
      {"KeyResult", "kr"},   {"Cycle", "cycle"},         {"Person", "person"},
      {"Team", "team"},      {"CheckIn", "ci"},          {"Review", "rv"},
      {"Webhook", "wh"}};
  auto it = prefixes->find(std::string(name));
  if (it != prefixes->end()) return it->second;
  // "breakdown_of_objective", "rolled_over_from": by the last word(s).
  for (const char* kind : {"objective", "key_result", "cycle", "team", "person", "owner"}) {
    if (absl::EndsWith(name, absl::StrCat("_", kind))) return PrefixFor(kind);
  }
  if (absl::StrContains(name, "rolled_over")) return "obj";
  return {};
}

std::string StringValue(const Descriptor& owner, const FieldDescriptor& field, int n) {
  const std::string& name = field.name();
  if (name == "request_id" || name == "client_key") return absl::StrCat("seed-", owner.name());
  if (name == "organisation_id") return kFuzzOrganisation;
  if (name == "page_token") return "";
  if (name == "url") return "https://hooks.example.com/okr";
  if (name == "email") return "seed@example.com";
  if (name == "time_zone") return "Europe/London";
  if (name == "csv") return "cycle,objective_ref,objective_title\r\nFY2027,S-1,Seed objective\r\n";
  if (name == "id") {
    absl::string_view prefix = PrefixFor(owner.name());
    // GetObjectiveRequest.id, ArchiveKeyResultRequest.id, ...
    for (const char* kind : {"KeyResult", "Objective", "Cycle", "Person", "Team", "Webhook",
                             "Review", "CheckIn"}) {
      if (prefix.empty() && absl::StrContains(owner.name(), kind)) prefix = PrefixFor(kind);
    }
    if (!prefix.empty()) return absl::StrCat("@", prefix, n);
  }
  if (absl::EndsWith(name, "_id") || absl::EndsWith(name, "_ids")) {
    const absl::string_view base =
        absl::string_view(name).substr(0, name.size() - (absl::EndsWith(name, "_id") ? 3 : 4));
    const absl::string_view prefix = PrefixFor(base);
    if (!prefix.empty()) return absl::StrCat("@", prefix, n);
  }
  return absl::StrCat("Seed ", name);
}

void Fill(Message& message, int depth, std::vector<const Descriptor*>& path) {
  const Descriptor& type = *message.GetDescriptor();
  const Reflection& r = *message.GetReflection();
  if (type.full_name() == "google.protobuf.Timestamp") {
    r.SetInt64(&message, type.FindFieldByName("seconds"), 1790000000);  // 2026-09-21, in the past
    return;
  }
  if (type.full_name() == "google.protobuf.Duration") {
    r.SetInt64(&message, type.FindFieldByName("seconds"), 3600);
    return;
  }
  if (type.full_name() == "google.protobuf.FieldMask") return;  // empty: "all fields"
  path.push_back(&type);
  for (int i = 0; i < type.field_count(); ++i) {
    const FieldDescriptor& field = *type.field(i);
    const auto* oneof = field.real_containing_oneof();
    if (oneof != nullptr && oneof->field(0) != &field) continue;
    const bool repeated = field.is_repeated();
    switch (field.cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING: {
        const std::string value = StringValue(type, field, 0);
        if (repeated) r.AddString(&message, &field, value);
        else r.SetString(&message, &field, value);
        break;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const auto* enum_type = field.enum_type();
        const auto* value = enum_type->value(enum_type->value_count() > 1 ? 1 : 0);
        if (repeated) r.AddEnum(&message, &field, value);
        else r.SetEnum(&message, &field, value);
        break;
      }
      case FieldDescriptor::CPPTYPE_INT32: {
        int32_t value = 1;
        if (field.name() == "page_size") value = 10;
        if (field.name() == "fiscal_year") value = 2027;
        if (field.name() == "confidence") value = 7;
        if (repeated) r.AddInt32(&message, &field, value);
        else r.SetInt32(&message, &field, value);
        break;
      }
      case FieldDescriptor::CPPTYPE_INT64:
        if (repeated) r.AddInt64(&message, &field, 1);
        else r.SetInt64(&message, &field, 1);
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        if (repeated) r.AddUInt32(&message, &field, 1);
        else r.SetUInt32(&message, &field, 1);
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        if (repeated) r.AddUInt64(&message, &field, 1);
        else r.SetUInt64(&message, &field, 1);
        break;
      case FieldDescriptor::CPPTYPE_DOUBLE:
        if (repeated) r.AddDouble(&message, &field, 1.5);
        else r.SetDouble(&message, &field, 1.5);
        break;
      case FieldDescriptor::CPPTYPE_FLOAT:
        if (repeated) r.AddFloat(&message, &field, 1.5f);
        else r.SetFloat(&message, &field, 1.5f);
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        break;  // false, the default
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        const Descriptor* child = field.message_type();
        if (depth >= kMaxFillDepth) break;
        bool recursive = false;
        for (const Descriptor* seen : path) recursive = recursive || seen == child;
        if (recursive) break;
        Message* value = repeated ? r.AddMessage(&message, &field) : r.MutableMessage(&message, &field);
        Fill(*value, depth + 1, path);
        break;
      }
    }
  }
  path.pop_back();
}

void Write(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", file.c_str());
    std::exit(1);
  }
}

void WriteServiceSeeds(const std::filesystem::path& dir,
                       const google::protobuf::ServiceDescriptor& service) {
  std::filesystem::create_directories(dir);
  const auto methods = UnaryMethods(service);
  for (size_t i = 0; i < methods.size(); ++i) {
    const std::string selector(1, static_cast<char>(i));
    std::unique_ptr<Message> request = NewMessage(*methods[i]->input_type());
    Write(dir / absl::StrCat(methods[i]->name(), "-empty"), selector);
    std::vector<const Descriptor*> path;
    Fill(*request, 0, path);
    std::string bytes;
    request->SerializeToString(&bytes);
    Write(dir / absl::StrCat(methods[i]->name(), "-full"), selector + bytes);
  }
}

void WriteCsvSeeds(const std::filesystem::path& dir, const std::filesystem::path& examples) {
  std::filesystem::create_directories(dir);
  for (const char* name : {"retail-annual", "customer-success-classic",
                           "customer-success-duality", "sales-annual-quarterly"}) {
    std::ifstream in(examples / absl::StrCat(name, ".csv"), std::ios::binary);
    const std::string csv((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (csv.empty()) {
      std::fprintf(stderr, "cannot read example %s\n", name);
      std::exit(1);
    }
    Write(dir / absl::StrCat(name, "-import"), std::string(1, '\0') + csv);
    Write(dir / absl::StrCat(name, "-dry-run"), std::string(1, '\1') + csv);
  }
  // The smallest files: a header only, and one row per cycle option.
  Write(dir / "header-only", std::string(1, '\0') + "cycle,objective_ref,objective_title\r\n");
  Write(dir / "default-cycle",
        std::string(1, '\2') + "objective_ref,objective_title,kr_ref,kr_title,from,to\r\n"
                               "D-1,\"Quoted, title\",D-1-KR1,Ship it,0,1\r\n");
  Write(dir / "bad-quote", std::string(1, '\1') + "cycle,objective_ref\r\n\"FY2027,X\r\n");
}

}  // namespace
}  // namespace okr::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR (e.g. tests/fuzz/corpus)\n", argv[0]);
    return 2;
  }
  const std::filesystem::path out(argv[1]);
  okr::fuzz::WriteServiceSeeds(out / "fuzz_planning", okr::fuzz::PlanningDescriptor());
  okr::fuzz::WriteServiceSeeds(out / "fuzz_tracking", okr::fuzz::TrackingDescriptor());
  okr::fuzz::WriteServiceSeeds(out / "fuzz_notify", okr::fuzz::NotifyDescriptor());
  okr::fuzz::WriteCsvSeeds(out / "fuzz_plan_csv",
                           std::filesystem::path(OKR_FUZZ_SOURCE_DIR) / "examples");
  return 0;
}
