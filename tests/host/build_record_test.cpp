// The build record's layout is part of the plugin ABI: pinned here.
#include <gtest/gtest.h>

#include <cstddef>

#include "plugins/build_gate.h"
#include "sigmaflow/build_record.h"

namespace sf::host {
namespace {

TEST(BuildRecord, LayoutIsPinned) {
  EXPECT_EQ(sizeof(sf_build_record), 220u);
  EXPECT_EQ(offsetof(sf_build_record, magic), 0u);
  EXPECT_EQ(offsetof(sf_build_record, record_size), 8u);
  EXPECT_EQ(offsetof(sf_build_record, api_major), 12u);
  EXPECT_EQ(offsetof(sf_build_record, api_minor), 16u);
  EXPECT_EQ(offsetof(sf_build_record, cxx11_abi), 20u);
  EXPECT_EQ(offsetof(sf_build_record, torch_cuda), 24u);
  EXPECT_EQ(offsetof(sf_build_record, torch_version), 28u);
  EXPECT_EQ(offsetof(sf_build_record, compiler), 60u);
  EXPECT_EQ(offsetof(sf_build_record, plugin_name), 124u);
  EXPECT_EQ(offsetof(sf_build_record, plugin_version), 188u);
  EXPECT_EQ(sizeof(sf_plugin_entry), 232u);
  EXPECT_EQ(offsetof(sf_plugin_entry, record), 0u);
  EXPECT_EQ(offsetof(sf_plugin_entry, init), 224u);
}

TEST(BuildRecord, IsReadFromTheElfSectionWithoutLoading) {
  auto r = read_build_record(std::string(SF_FIXTURE_DIR) + "/good/fixture_good.so");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(record_string((*r)->plugin_name, sizeof(**r).plugin_name), "fixture_good");
  EXPECT_EQ((*r)->api_major, static_cast<uint32_t>(SIGMAFLOW_PLUGIN_API_MAJOR));
  // A library without the section (an API 1 plugin, or no plugin at all) has no record there.
  auto none = read_build_record(std::string(SF_FIXTURE_DIR) + "/no_entry/fixture_no_entry.so");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(read_build_record("/etc/hostname").ok());  // not ELF
}

sf_build_record host_copy() { return host_build_record(); }

TEST(BuildRecord, GateRules) {
  const sf_build_record& h = host_build_record();
  EXPECT_TRUE(check_build_record(h, h).ok());
  sf_build_record older_minor = host_copy();
  sf_build_record host_newer = host_copy();
  host_newer.api_minor = older_minor.api_minor + 1;
  EXPECT_TRUE(check_build_record(older_minor, host_newer).ok()) << "a plugin with an older minor is accepted";
  sf_build_record newer = host_copy();
  newer.api_minor = h.api_minor + 1;
  Status st = check_build_record(newer, h);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("newer than the host's"), std::string::npos);
  // A plugin built for plugin API 2.3 (before step forms and SampleContext extensions) in a 3.0
  // host: refused, both versions named.
  sf_build_record api2 = host_copy();
  api2.api_major = 2;
  api2.api_minor = 3;
  st = check_build_record(api2, h);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("2.3"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(std::to_string(h.api_major)), std::string::npos) << st.message();
  sf_build_record cuda = host_copy();
  cuda.torch_cuda = !h.torch_cuda;
  st = check_build_record(cuda, h);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("CUDA"), std::string::npos);
  sf_build_record abi = host_copy();
  abi.cxx11_abi = !h.cxx11_abi;
  st = check_build_record(abi, h);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("_GLIBCXX_USE_CXX11_ABI=" + std::to_string(abi.cxx11_abi)), std::string::npos);
}

}  // namespace
}  // namespace sf::host
