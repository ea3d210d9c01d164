// SaveImage (PNG decoded back with libpng), LatentToImage, PlotSamples2D, PlotDensity1D.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <png.h>

#include <cstring>
#include <filesystem>

#include "sigmaflow/testing/node_runner.h"

namespace sf {
namespace {

testing::NodeRunner& runner() {
  static testing::NodeRunner r({SF_PLUGIN_DIR});
  return r;
}

Value latent(at::Tensor t) { return Value(std::make_shared<Latent>(std::move(t))); }

struct Decoded {
  int width = 0, height = 0;
  std::vector<uint8_t> gray;
};

Decoded decode(const std::string& path) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  Decoded d;
  if (!png_image_begin_read_from_file(&img, path.c_str())) return d;
  img.format = PNG_FORMAT_GRAY;
  d.gray.resize(PNG_IMAGE_SIZE(img));
  if (!png_image_finish_read(&img, nullptr, d.gray.data(), 0, nullptr)) return d;
  d.width = static_cast<int>(img.width);
  d.height = static_cast<int>(img.height);
  return d;
}

TEST(SaveImage, GridOfTheBatchMapsMinusOneToBlackAndOneToWhite) {
  // 4 images of 3 x 5 (flat 15 values are not square, so use [B, 1, H, W]): image b is constant
  // (b / 3) * 2 - 1, i.e. -1, -1/3, 1/3, 1.
  at::Tensor x = (at::arange(4, at::kFloat) / 3 * 2 - 1).view({4, 1, 1, 1}).expand({4, 1, 3, 5}).contiguous();
  auto r = runner().run("SaveImage", R"({"filename_prefix": "img/grid", "grid": true})", {{"images", latent(x)}});
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.files.size(), 1u);
  Decoded d = decode(r.files[0]);
  // 2 x 2 grid, 2-pixel white padding: width 2*5 + 3*2 = 16, height 2*3 + 3*2 = 12.
  ASSERT_EQ(d.width, 16);
  ASSERT_EQ(d.height, 12);
  EXPECT_EQ(d.gray[0], 255);                         // padding
  EXPECT_EQ(d.gray[2 * 16 + 2], 0);                  // image 0 = -1
  EXPECT_EQ(d.gray[2 * 16 + 2 + 7], 85);             // image 1 = -1/3 -> 255/3
  EXPECT_EQ(d.gray[(2 + 3 + 2) * 16 + 2 + 7], 255);  // image 3 = 1
  auto singles = runner().run("SaveImage", R"({"filename_prefix": "img/one", "grid": false})",
                              {{"images", latent(at::zeros({2, 16}))}});
  ASSERT_TRUE(singles.ok) << singles.error;
  EXPECT_EQ(singles.files.size(), 2u);
  EXPECT_EQ(decode(singles.files[1]).width, 4);
  auto bad = runner().run("SaveImage", "{}", {{"images", latent(at::zeros({2, 15}))}});
  ASSERT_FALSE(bad.ok);
  EXPECT_EQ(bad.error_input, "images");
}

TEST(LatentToImage, ComfyLayout) {
  auto r = runner().run("LatentToImage", "{}", {{"samples", latent(at::ones({2, 3, 4, 5}))}});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.outputs[0].tensor().sizes(), (std::vector<int64_t>{2, 4, 5, 3}));
  EXPECT_EQ(r.outputs[0].tensor().max().item<float>(), 1.0f);
}

TEST(PlotSamples2D, WritesPngAndSvgAndRefusesOtherShapes) {
  auto r = runner().run("PlotSamples2D", R"({"filename_prefix": "plots/s"})",
                        {{"samples", latent(at::randn({500, 2}))}, {"reference", latent(at::randn({500, 2}) * 2)}});
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.files.size(), 2u);
  EXPECT_GT(decode(r.files[0]).width, 100);
  EXPECT_GT(std::filesystem::file_size(r.files[1]), 1000u);
  auto bad = runner().run("PlotSamples2D", "{}", {{"samples", latent(at::randn({10, 3}))}});
  ASSERT_FALSE(bad.ok);
  EXPECT_EQ(bad.error_input, "samples");
  auto bad_reference = runner().run("PlotSamples2D", "{}",
                                    {{"samples", latent(at::randn({10, 2}))}, {"reference", latent(at::randn({10}))}});
  ASSERT_FALSE(bad_reference.ok);
  EXPECT_EQ(bad_reference.error_input, "reference");
}

// PlotDensity1D: the sets connected (any of samples_2..4 may be left out) on one plot; a set that
// is not 1-D is refused naming its own input.
TEST(PlotDensity1D, PlotsTheConnectedSetsAndNamesABadOne) {
  auto r = runner().run("PlotDensity1D", R"({"filename_prefix": "plots/d", "labels": "a, b", "bins": 50})",
                        {{"samples_1", latent(at::randn({400}))}, {"samples_3", latent(at::randn({400, 1}) + 3)}});
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.files.size(), 2u);
  EXPECT_GT(decode(r.files[0]).width, 100);
  EXPECT_GT(std::filesystem::file_size(r.files[1]), 1000u);
  auto bad = runner().run("PlotDensity1D", "{}",
                          {{"samples_1", latent(at::randn({40}))}, {"samples_3", latent(at::randn({40, 2}))}});
  ASSERT_FALSE(bad.ok);
  EXPECT_EQ(bad.error_input, "samples_3");
  EXPECT_NE(bad.error.find("1-D samples"), std::string::npos) << bad.error;
}

}  // namespace
}  // namespace sf
