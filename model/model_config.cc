#include "model/model_config.h"

#include "absl/strings/str_cat.h"
#include "core/json.h"

namespace skillsd::model {
namespace {

absl::Status FieldError(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("config.json: ", field, ": ", problem));
}

absl::StatusOr<int64_t> GetInt(const JsonValue& root, absl::string_view field, bool required, int64_t fallback) {
  const JsonValue* v = root.Find(field);
  if (v == nullptr || v->is_null()) {
    if (required) return FieldError(field, "missing");
    return fallback;
  }
  if (!v->is_integer()) return FieldError(field, "expected an integer");
  return v->integer();
}

absl::StatusOr<double> GetNumber(const JsonValue& root, absl::string_view field, double fallback) {
  const JsonValue* v = root.Find(field);
  if (v == nullptr || v->is_null()) return fallback;
  if (!v->is_number()) return FieldError(field, "expected a number");
  return v->number();
}

absl::StatusOr<bool> GetBool(const JsonValue& root, absl::string_view field, bool fallback) {
  const JsonValue* v = root.Find(field);
  if (v == nullptr || v->is_null()) return fallback;
  if (!v->is_bool()) return FieldError(field, "expected true or false");
  return v->bool_value();
}

}  // namespace

int64_t ModelConfig::NumParameters() const {
  const int64_t q = num_attention_heads * head_dim, kv = num_key_value_heads * head_dim;
  int64_t per_layer =
      hidden_size * q + 2 * hidden_size * kv + q * hidden_size + 3 * hidden_size * intermediate_size + 2 * hidden_size;
  if (attention_bias) per_layer += q + 2 * kv;
  if (qk_norm) per_layer += 2 * head_dim;
  return vocab_size * hidden_size * (tie_word_embeddings ? 1 : 2) + num_hidden_layers * per_layer + hidden_size;
}

absl::StatusOr<ModelConfig> ParseModelConfig(absl::string_view json_text) {
  absl::StatusOr<JsonValue> parsed = ParseJson(json_text);
  if (!parsed.ok()) return absl::InvalidArgumentError(absl::StrCat("config.json: ", parsed.status().message()));
  const JsonValue& root = *parsed;
  if (!root.is_object()) return absl::InvalidArgumentError("config.json: not a JSON object");
  ModelConfig c;
  std::string architecture;
  if (const JsonValue* a = root.Find("architectures");
      a != nullptr && a->is_array() && !a->array().empty() && a->array()[0].is_string()) {
    architecture = a->array()[0].string();
  }
  std::string model_type;
  if (const JsonValue* t = root.Find("model_type"); t != nullptr && t->is_string()) model_type = t->string();
  if (architecture == "Qwen3ForCausalLM" || (architecture.empty() && model_type == "qwen3")) {
    c.family = Family::kQwen3;
  } else if (architecture == "Qwen2ForCausalLM" || (architecture.empty() && model_type == "qwen2")) {
    c.family = Family::kQwen2;
  } else {
    return FieldError("architectures", absl::StrCat("unsupported architecture '", architecture, "' (model_type '",
                                                    model_type, "'); supported: Qwen3ForCausalLM, Qwen2ForCausalLM"));
  }
  const bool qwen3 = c.family == Family::kQwen3;
  auto assign = [](auto* field, auto value) -> absl::Status {
    if (!value.ok()) return value.status();
    *field = *value;
    return absl::OkStatus();
  };
  absl::Status s;
  if (!(s = assign(&c.vocab_size, GetInt(root, "vocab_size", true, 0))).ok()) return s;
  if (!(s = assign(&c.hidden_size, GetInt(root, "hidden_size", true, 0))).ok()) return s;
  if (!(s = assign(&c.intermediate_size, GetInt(root, "intermediate_size", true, 0))).ok()) return s;
  if (!(s = assign(&c.num_hidden_layers, GetInt(root, "num_hidden_layers", true, 0))).ok()) return s;
  if (!(s = assign(&c.num_attention_heads, GetInt(root, "num_attention_heads", true, 0))).ok()) return s;
  if (!(s = assign(&c.num_key_value_heads, GetInt(root, "num_key_value_heads", false, c.num_attention_heads))).ok()) {
    return s;
  }
  if (c.num_attention_heads <= 0 || c.hidden_size <= 0 || c.vocab_size <= 0 || c.num_hidden_layers <= 0 ||
      c.intermediate_size <= 0 || c.num_key_value_heads <= 0) {
    return absl::InvalidArgumentError("config.json: sizes must be positive");
  }
  const int64_t default_head_dim = c.hidden_size / c.num_attention_heads;
  if (!(s = assign(&c.head_dim, GetInt(root, "head_dim", false, default_head_dim))).ok()) return s;
  if (!(s = assign(&c.rope_theta, GetNumber(root, "rope_theta", 10000.0))).ok()) return s;
  if (!(s = assign(&c.rms_norm_eps, GetNumber(root, "rms_norm_eps", 1e-6))).ok()) return s;
  if (!(s = assign(&c.max_position_embeddings, GetInt(root, "max_position_embeddings", false, 32768))).ok()) return s;
  if (!(s = assign(&c.tie_word_embeddings, GetBool(root, "tie_word_embeddings", false))).ok()) return s;
  if (!(s = assign(&c.attention_bias, GetBool(root, "attention_bias", !qwen3))).ok()) return s;
  if (!(s = assign(&c.bos_token_id, GetInt(root, "bos_token_id", false, -1))).ok()) return s;
  if (const JsonValue* eos = root.Find("eos_token_id"); eos != nullptr && eos->is_array()) {
    // A list of stop ids: keep the first as the primary end-of-sequence token.
    if (!eos->array().empty() && eos->array()[0].is_integer()) c.eos_token_id = eos->array()[0].integer();
  } else if (!(s = assign(&c.eos_token_id, GetInt(root, "eos_token_id", false, -1))).ok()) {
    return s;
  }
  c.qk_norm = qwen3;
  if (const JsonValue* d = root.Find("torch_dtype"); d != nullptr && d->is_string()) c.torch_dtype = d->string();
  if (const JsonValue* act = root.Find("hidden_act");
      act != nullptr && !(act->is_string() && act->string() == "silu")) {
    return FieldError("hidden_act", "only silu is supported");
  }
  // transformers 5 writes RoPE settings as rope_parameters {"rope_type": "default", "rope_theta": ...} (and may
  // mirror it in rope_scaling); only the default (unscaled) RoPE is supported.
  for (const char* field : {"rope_scaling", "rope_parameters"}) {
    const JsonValue* rope = root.Find(field);
    if (rope == nullptr || rope->is_null()) continue;
    if (!rope->is_object()) return FieldError(field, "expected an object");
    const JsonValue* type = rope->Find("rope_type");
    if (type == nullptr) type = rope->Find("type");
    if (type == nullptr || !type->is_string() || type->string() != "default") {
      return FieldError(field, "only the default RoPE is supported (no scaling)");
    }
    if (const JsonValue* theta = rope->Find("rope_theta"); theta != nullptr) {
      if (!theta->is_number()) return FieldError(field, "rope_theta must be a number");
      c.rope_theta = theta->number();
    }
  }
  if (const JsonValue* types = root.Find("layer_types"); types != nullptr && types->is_array()) {
    for (const JsonValue& t : types->array()) {
      if (!t.is_string() || t.string() != "full_attention") {
        return FieldError("layer_types", "only full_attention layers are supported");
      }
    }
  }
  if (const JsonValue* sw = root.Find("use_sliding_window"); sw != nullptr && sw->is_bool() && sw->bool_value()) {
    return FieldError("use_sliding_window", "sliding-window attention is not supported");
  }
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return FieldError("num_key_value_heads", "must divide num_attention_heads");
  }
  if (c.head_dim <= 0 || c.head_dim % 2 != 0) return FieldError("head_dim", "must be positive and even (RoPE)");
  if (!qwen3 && c.head_dim * c.num_attention_heads != c.hidden_size) {
    return FieldError("hidden_size", "Qwen2 needs hidden_size = num_attention_heads * head_dim");
  }
  if (c.rope_theta <= 0) return FieldError("rope_theta", "must be > 0");
  if (c.rms_norm_eps <= 0) return FieldError("rms_norm_eps", "must be > 0");
  return c;
}

std::string ToJson(const ModelConfig& c) {
  const bool qwen3 = c.family == Family::kQwen3;
  return absl::StrCat(
      "{\n  \"architectures\": [\"", qwen3 ? "Qwen3ForCausalLM" : "Qwen2ForCausalLM", "\"],\n", "  \"model_type\": \"",
      qwen3 ? "qwen3" : "qwen2", "\",\n", "  \"vocab_size\": ", c.vocab_size, ",\n  \"hidden_size\": ", c.hidden_size,
      ",\n  \"intermediate_size\": ", c.intermediate_size, ",\n  \"num_hidden_layers\": ", c.num_hidden_layers,
      ",\n  \"num_attention_heads\": ", c.num_attention_heads, ",\n  \"num_key_value_heads\": ", c.num_key_value_heads,
      ",\n  \"head_dim\": ", c.head_dim,
      ",\n  \"hidden_act\": \"silu\",\n  \"rope_theta\": ", FormatDouble(c.rope_theta),
      ",\n  \"rms_norm_eps\": ", FormatDouble(c.rms_norm_eps),
      ",\n  \"max_position_embeddings\": ", c.max_position_embeddings,
      ",\n  \"tie_word_embeddings\": ", c.tie_word_embeddings ? "true" : "false",
      ",\n  \"attention_bias\": ", c.attention_bias ? "true" : "false",
      ",\n  \"torch_dtype\": ", JsonQuote(c.torch_dtype), ",\n  \"bos_token_id\": ", c.bos_token_id,
      ",\n  \"eos_token_id\": ", c.eos_token_id, ",\n  \"rope_scaling\": null,\n  \"use_sliding_window\": false\n}\n");
}

}  // namespace skillsd::model
