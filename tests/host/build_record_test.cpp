// The build record's layout is part of the plugin ABI: pinned here.
#include <gtest/gtest.h>

#include <cstddef>

#include "plugins/plugin_host.h"
#include "sigmaflow/build_record.h"

namespace sf::host {
namespace {

TEST(BuildRecord, LayoutIsPinned) {
  EXPECT_EQ(sizeof(sf_build_record), 212u);
  EXPECT_EQ(offsetof(sf_build_record, record_size), 0u);
  EXPECT_EQ(offsetof(sf_build_record, api_major), 4u);
  EXPECT_EQ(offsetof(sf_build_record, api_minor), 8u);
  EXPECT_EQ(offsetof(sf_build_record, cxx11_abi), 12u);
  EXPECT_EQ(offsetof(sf_build_record, torch_cuda), 16u);
  EXPECT_EQ(offsetof(sf_build_record, torch_version), 20u);
  EXPECT_EQ(offsetof(sf_build_record, compiler), 52u);
  EXPECT_EQ(offsetof(sf_build_record, plugin_name), 116u);
  EXPECT_EQ(offsetof(sf_build_record, plugin_version), 180u);
  EXPECT_EQ(sizeof(sf_plugin_entry), 224u);
  EXPECT_EQ(offsetof(sf_plugin_entry, record), 0u);
  EXPECT_EQ(offsetof(sf_plugin_entry, init), 216u);
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
