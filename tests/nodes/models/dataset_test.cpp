// LoadDataset (IDX plain and gzip, .npy, slices, bad files) and FitGaussianMixture (EM recovers a
// known mixture).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "sigmaflow/diffusion/dataset.h"
#include "sigmaflow/diffusion/npy.h"
#include "sigmaflow/testing/node_runner.h"

namespace sf {
namespace {

namespace fs = std::filesystem;

testing::NodeRunner& runner() {
  static testing::NodeRunner r({SF_PLUGIN_DIR});
  return r;
}

// An IDX ubyte file of n images of h x w, pixel (i, r, c) = (i + r * w + c) % 256.
std::string idx_bytes(int n, int h, int w) {
  std::string b = {0, 0, 0x08, 3};
  for (int v : {n, h, w})
    for (int s : {24, 16, 8, 0}) b += static_cast<char>((v >> s) & 0xff);
  for (int i = 0; i < n; ++i)
    for (int p = 0; p < h * w; ++p) b += static_cast<char>((i + p) % 256);
  return b;
}

std::string write_file(const std::string& name, const std::string& bytes, bool gz) {
  std::string path = (fs::temp_directory_path() / name).string();
  if (gz) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary) << bytes;
  }
  return path;
}

at::Tensor samples(const testing::NodeRun& r) {
  return std::dynamic_pointer_cast<const Latent>(r.outputs.at(0).object())->samples();
}

TEST(LoadDataset, IdxPlainAndGzipScaledToMinusOneOne) {
  std::string bytes = idx_bytes(5, 4, 3);
  for (bool gz : {false, true}) {
    std::string path = write_file(gz ? "sf-test.idx3-ubyte.gz" : "sf-test.idx3-ubyte", bytes, gz);
    auto r = runner().run("LoadDataset",
                          R"({"path": ")" + path + R"(", "offset": 1, "limit": 3, "image_shape": "1, 4, 3"})");
    ASSERT_TRUE(r.ok) << r.error;
    at::Tensor t = samples(r);
    EXPECT_EQ(t.sizes(), (std::vector<int64_t>{3, 1, 4, 3}));
    // sample 0 of the slice is image 1: pixel (r=2, c=1) = (1 + 7) = 8 -> 8 / 127.5 - 1.
    EXPECT_NEAR(t[0][0][2][1].item<double>(), 8 / 127.5 - 1, 1e-6);
    EXPECT_NEAR(t.min().item<double>(), 1 / 127.5 - 1, 1e-6);
  }
}

TEST(LoadDataset, BadFilesAreClearErrors) {
  std::string full = idx_bytes(4, 2, 2);
  struct Case {
    std::string path, message;
  } cases[] = {
      {"/nonexistent/data.idx", "does not exist"},
      {write_file("sf-trunc.idx", full.substr(0, full.size() - 3), false), "truncated data"},
      {write_file("sf-trunc-header.idx", full.substr(0, 9), false), "truncated header"},
      {write_file("sf-magic.idx", "\x01\x02\x08\x03" + full.substr(4), false), "two zero bytes"},
      {write_file("sf-type.idx", std::string("\0\0\x42\x01", 4) + std::string("\0\0\0\1x", 5), false),
       "unknown data type"},
  };
  for (const auto& c : cases) {
    auto r = runner().run("LoadDataset", R"({"path": ")" + c.path + R"("})");
    ASSERT_FALSE(r.ok) << c.path;
    EXPECT_EQ(r.error_input, "path");
    EXPECT_NE(r.error.find(c.message), std::string::npos) << r.error;
  }
  auto shape = runner().run("LoadDataset",
                            R"({"path": ")" + write_file("sf-ok.idx", full, false) + R"(", "image_shape": "3, 3"})");
  ASSERT_FALSE(shape.ok);
  EXPECT_EQ(shape.error_input, "image_shape");
}

// Found by fuzz_data: a zero-sized dimension next to huge ones holds no data, but its sizes and
// strides overflow LibTorch's int64 (the tensor crashed the first operation on it).
TEST(LoadDataset, EmptyShapesWhoseStridesOverflowAreRefused) {
  std::string idx("\x00\x00\x08\x04", 4);
  for (uint32_t d : {0u, 0x80000000u, 0x80000000u, 0x80000000u})
    for (int k = 3; k >= 0; --k) idx += static_cast<char>((d >> (8 * k)) & 0xff);
  auto r = diffusion::parse_idx(idx, "t.idx");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("overflows"), std::string::npos) << r.status().message();
  std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4294967296, 4294967296), }";
  h += std::string((64 - (11 + h.size()) % 64) % 64, ' ') + "\n";
  std::string npy =
      std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(h.size() & 0xff) + static_cast<char>(h.size() >> 8) + h;
  auto n = diffusion::parse_npy(npy, "t.npy");
  ASSERT_FALSE(n.ok());
  // A plain empty array is fine.
  std::string h0 = "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }";
  h0 += std::string((64 - (11 + h0.size()) % 64) % 64, ' ') + "\n";
  auto e = diffusion::parse_npy(std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(h0.size()) + '\0' + h0, "e");
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e.value().numel(), 0);
}

TEST(FitGaussianMixture, RecoversAKnownMixture) {
  // 0.3 N((-2, 0), diag(0.04, 0.25)) + 0.7 N((3, 1), diag(0.09, 0.01)), 20000 samples.
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(4);
  int64_t n0 = 6000, n1 = 14000;
  at::Tensor a = at::randn({n0, 2}, g, at::TensorOptions().dtype(at::kDouble)) * at::tensor({0.2, 0.5}, at::kDouble) +
                 at::tensor({-2.0, 0.0}, at::kDouble);
  at::Tensor b = at::randn({n1, 2}, g, at::TensorOptions().dtype(at::kDouble)) * at::tensor({0.3, 0.1}, at::kDouble) +
                 at::tensor({3.0, 1.0}, at::kDouble);
  Value data(std::make_shared<Latent>(at::cat({a, b}, 0)));
  auto r =
      runner().run("FitGaussianMixture", R"({"components": 2, "covariance": "diag", "seed": 1, "dtype": "float64"})",
                   {{"dataset", data}});
  ASSERT_TRUE(r.ok) << r.error;
  auto m = std::dynamic_pointer_cast<const Model>(r.outputs[0].object());
  at::Tensor w = m->exact()->component_weights(), mu = m->exact()->component_means();
  int64_t k1 = mu[0][0].item<double>() > 0 ? 0 : 1, k0 = 1 - k1;
  EXPECT_NEAR(w[k0].item<double>(), 0.3, 0.01);
  EXPECT_NEAR(mu[k0][0].item<double>(), -2.0, 0.02);
  EXPECT_NEAR(mu[k1][1].item<double>(), 1.0, 0.01);
  // The fitted model's samples have the data's spread: variance of x2 in component 0 is 0.25.
  at::Tensor s = m->exact()->sample_data(100000, 3);
  at::Tensor left = s.index_select(0, (s.select(1, 0) < 0).nonzero().squeeze(1));
  EXPECT_NEAR(left.select(1, 1).var().item<double>(), 0.25, 0.02);
  EXPECT_EQ(r.messages.size(), 1u);
  auto few = runner().run("FitGaussianMixture", R"({"components": 50})",
                          {{"dataset", Value(std::make_shared<Latent>(at::zeros({10, 2})))}});
  ASSERT_FALSE(few.ok);
  EXPECT_EQ(few.error_input, "dataset");
}

}  // namespace
}  // namespace sf
