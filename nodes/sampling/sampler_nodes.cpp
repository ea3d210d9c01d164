// KSamplerSelect and the sampler option nodes.
#include <limits>

#include "k_samplers.h"
#include "nodes.h"

namespace sf::nodes {

namespace {
std::vector<std::string> filter(bool (*pred)(const std::string&)) {
  std::vector<std::string> out;
  for (const auto& n : sampler_names())
    if (pred(n)) out.push_back(n);
  return out;
}
Value sampler_value(SamplerOptions o) { return Value(std::make_shared<KSamplerObject>(std::move(o))); }
}  // namespace

NodeDef ksampler_select_node() {
  NodeContract c;
  c.class_type = "KSamplerSelect";
  c.category = kSamplerCategory;
  c.description = "A sampler by name with k-diffusion's default options (eta = 1, s_noise = 1, no churn; "
                  "lower_order_final on below 15 steps for multistep samplers).";
  InputSpec name = Combo("sampler_name", sampler_names(), std::string("euler"));
  name.choices_from = "samplers";
  c.inputs = {name};
  c.outputs = {{"SAMPLER", "SAMPLER"}};
  return make_node(c, [](Context& ctx, const Inputs& in) {
    std::string err;
    auto s = ctx.make_sampler(in.get_string("sampler_name"), err);
    if (!s) throw InputError("sampler_name", in.get_string("sampler_name"), err);
    return Outputs{Value(std::shared_ptr<const Object>(s))};
  });
}

std::vector<NodeDef> sampler_option_nodes() {
  std::vector<NodeDef> out;
  {
    NodeContract c;
    c.class_type = "SamplerStochasticOptions";
    c.category = kSamplerCategory;
    c.description = "A stochastic sampler with its noise options: eta (0 = deterministic), s_noise, and solver_type "
                    "for dpmpp_2m_sde.";
    c.inputs = {Combo("sampler_name", filter(is_stochastic)), Float("eta", 1.0, 0.0, 100.0),
                Float("s_noise", 1.0, 0.0, 100.0), Combo("solver_type", {"midpoint", "heun"})};
    c.outputs = {{"SAMPLER", "SAMPLER"}};
    out.push_back(make_node(c, [](Context&, const Inputs& in) {
      SamplerOptions o;
      o.name = in.get_string("sampler_name");
      o.eta = in.get_float("eta");
      o.s_noise = in.get_float("s_noise");
      o.solver_type = in.get_string("solver_type");
      return Outputs{sampler_value(o)};
    }));
  }
  {
    NodeContract c;
    c.class_type = "SamplerEDMChurn";
    c.category = kSamplerCategory;
    c.description = "euler / heun / dpm_2 with Karras et al.'s churn: inside [s_tmin, s_tmax] each step first raises "
                    "sigma by gamma = min(s_churn / N, sqrt(2) - 1) with fresh noise times s_noise.";
    c.inputs = {Combo("sampler_name", {"euler", "heun", "dpm_2"}), Float("s_churn", 0.0, 0.0, 100.0),
                Float("s_tmin", 0.0, 0.0, 1e6), Float("s_tmax", 1e6, 0.0, 1e9), Float("s_noise", 1.0, 0.0, 100.0)};
    c.outputs = {{"SAMPLER", "SAMPLER"}};
    out.push_back(make_node(c, [](Context&, const Inputs& in) {
      SamplerOptions o;
      o.name = in.get_string("sampler_name");
      o.s_churn = in.get_float("s_churn");
      o.s_tmin = in.get_float("s_tmin");
      o.s_tmax = in.get_float("s_tmax");
      o.s_noise = in.get_float("s_noise");
      return Outputs{sampler_value(o)};
    }));
  }
  {
    NodeContract c;
    c.class_type = "SamplerMultistepOptions";
    c.category = kSamplerCategory;
    c.description = "Multistep samplers with lower_order_final (diffusers' convention: the last step into a positive "
                    "sigma at first order, the one before at most second order; auto = on below 15 steps) and max_order.";
    c.inputs = {Combo("sampler_name", filter(is_multistep)), Combo("lower_order_final", {"auto", "on", "off"}),
                Int("max_order", 4, 1, 4)};
    c.outputs = {{"SAMPLER", "SAMPLER"}};
    out.push_back(make_node(c, [](Context&, const Inputs& in) {
      SamplerOptions o;
      o.name = in.get_string("sampler_name");
      const std::string& lof = in.get_string("lower_order_final");
      o.lower_order_final = lof == "auto" ? -1 : lof == "on" ? 1 : 0;
      o.max_order = static_cast<int>(in.get_int("max_order"));
      return Outputs{sampler_value(o)};
    }));
  }
  // ComfyUI's own option node names, so its graphs load unchanged.
  struct Alias {
    const char* class_type;
    const char* sampler;
    bool solver;
  };
  for (Alias a : {Alias{"SamplerEulerAncestral", "euler_ancestral", false},
                  Alias{"SamplerDPMPP_2S_Ancestral", "dpmpp_2s_ancestral", false},
                  Alias{"SamplerDPMPP_2M_SDE", "dpmpp_2m_sde", true}, Alias{"SamplerDPMPP_3M_SDE", "dpmpp_3m_sde", false}}) {
    NodeContract c;
    c.class_type = a.class_type;
    c.category = kSamplerCategory;
    c.description = std::string(a.sampler) + " with eta and s_noise (ComfyUI-compatible node).";
    c.inputs = {Float("eta", 1.0, 0.0, 100.0), Float("s_noise", 1.0, 0.0, 100.0)};
    if (a.solver) c.inputs.insert(c.inputs.begin(), Combo("solver_type", {"midpoint", "heun"}));
    if (a.solver || std::string(a.sampler) == "dpmpp_3m_sde") c.inputs.push_back(Combo("noise_device", {"gpu", "cpu"}));
    c.outputs = {{"SAMPLER", "SAMPLER"}};
    std::string name = a.sampler;
    out.push_back(make_node(c, [name](Context&, const Inputs& in) {
      SamplerOptions o;
      o.name = name;
      o.eta = in.get_float("eta");
      o.s_noise = in.get_float("s_noise");
      if (in.has("solver_type")) o.solver_type = in.get_string("solver_type");
      return Outputs{sampler_value(o)};
    }));
  }
  {
    NodeContract c;
    c.class_type = "SamplerLMS";
    c.category = kSamplerCategory;
    c.description = "Linear multistep (k-diffusion lms) of the given order.";
    c.inputs = {Int("order", 4, 1, 4)};
    c.outputs = {{"SAMPLER", "SAMPLER"}};
    out.push_back(make_node(c, [](Context&, const Inputs& in) {
      SamplerOptions o;
      o.name = "lms";
      o.max_order = static_cast<int>(in.get_int("order"));
      return Outputs{sampler_value(o)};
    }));
  }
  return out;
}

}  // namespace sf::nodes
