#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "core/json.h"
#include "core/status.h"

namespace skillsd::model {
namespace {

torch::ScalarType ToTorch(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return torch::kFloat32;
    case DType::kBF16:
      return torch::kBFloat16;
    case DType::kF16:
      return torch::kFloat16;
  }
  return torch::kFloat32;
}

absl::StatusOr<DType> FromTorch(torch::ScalarType type) {
  if (type == torch::kFloat32) return DType::kF32;
  if (type == torch::kBFloat16) return DType::kBF16;
  if (type == torch::kFloat16) return DType::kF16;
  return absl::InvalidArgumentError(absl::StrCat("unsupported tensor dtype ", c10::toString(type)));
}

// A read-only mapping of a whole file.
class MappedFile {
 public:
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return errno == ENOENT ? absl::NotFoundError(absl::StrCat(path, ": no such file"))
                             : absl::InternalError(absl::StrCat(path, ": ", std::strerror(errno)));
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return absl::InternalError(absl::StrCat(path, ": cannot stat"));
    }
    auto file = std::unique_ptr<MappedFile>(new MappedFile());
    file->size_ = static_cast<size_t>(st.st_size);
    if (file->size_ > 0) {
      void* data = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (data == MAP_FAILED) {
        ::close(fd);
        return absl::InternalError(absl::StrCat(path, ": mmap failed"));
      }
      file->data_ = static_cast<const char*>(data);
    }
    ::close(fd);
    return file;
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
  }
  const char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  MappedFile() = default;
  const char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace

absl::StatusOr<TensorMap> ReadSafetensors(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> file, MappedFile::Open(path));
  if (file->size() < 8) return absl::InvalidArgumentError(absl::StrCat(path, ": too short for a safetensors file"));
  uint64_t header_size = 0;
  std::memcpy(&header_size, file->data(), 8);  // little-endian, as on every platform we build for
  if (header_size > file->size() - 8 || header_size > (uint64_t{100} << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": header length ", header_size, " exceeds the file"));
  }
  const uint64_t data_size = file->size() - 8 - header_size;
  absl::StatusOr<std::vector<TensorEntry>> entries =
      ParseSafetensorsHeader(absl::string_view(file->data() + 8, header_size), data_size);
  if (!entries.ok()) return Annotate(entries.status(), path);
  const char* data = file->data() + 8 + header_size;
  TensorMap tensors;
  return CatchExceptions(path, [&]() -> absl::StatusOr<TensorMap> {
    for (const TensorEntry& e : *entries) {
      torch::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(ToTorch(e.dtype)));
      std::memcpy(t.data_ptr(), data + e.begin, e.end - e.begin);
      tensors.emplace(e.name, std::move(t));
    }
    return std::move(tensors);
  });
}

absl::StatusOr<TensorMap> ReadModelWeights(const std::string& dir) {
  const std::string index_path = dir + "/model.safetensors.index.json";
  absl::StatusOr<std::string> index_text = ReadFile(index_path);
  if (!index_text.ok()) {
    if (index_text.status().code() != absl::StatusCode::kNotFound) return index_text.status();
    return ReadSafetensors(dir + "/model.safetensors");
  }
  absl::StatusOr<JsonValue> index = ParseJson(*index_text);
  if (!index.ok()) return Annotate(index.status(), index_path);
  const JsonValue* map = index->Find("weight_map");
  if (map == nullptr || !map->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(index_path, ": missing weight_map"));
  }
  std::set<std::string> shards;
  for (const auto& [name, file] : map->object()) {
    if (!file.is_string() || file.string().empty() || file.string().find('/') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(index_path, ": bad shard name for ", name));
    }
    shards.insert(file.string());
  }
  TensorMap all;
  for (const std::string& shard : shards) {
    ASSIGN_OR_RETURN(TensorMap part, ReadSafetensors(dir + "/" + shard));
    for (auto& [name, tensor] : part) {
      const JsonValue* listed = map->Find(name);
      if (listed == nullptr || listed->string() != shard) {
        return absl::InvalidArgumentError(absl::StrCat(shard, ": tensor '", name, "' is not listed for this shard"));
      }
      if (!all.emplace(name, std::move(tensor)).second) {
        return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' appears in two shards"));
      }
    }
  }
  for (const auto& [name, file] : map->object()) {
    if (all.count(name) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(file.string(), ": tensor '", name, "' listed but missing"));
    }
  }
  return all;
}

absl::Status WriteSafetensors(const std::string& path, const TensorMap& tensors) {
  return CatchExceptions(path, [&]() -> absl::Status {
    std::string header = "{\"__metadata__\": {\"format\": \"pt\"}";
    std::vector<torch::Tensor> contiguous;
    uint64_t offset = 0;
    for (const auto& [name, tensor] : tensors) {
      ASSIGN_OR_RETURN(DType dtype, FromTorch(tensor.scalar_type()));
      torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
      const uint64_t bytes = static_cast<uint64_t>(t.numel()) * DTypeSize(dtype);
      std::string shape;
      for (int64_t d : t.sizes()) absl::StrAppend(&shape, shape.empty() ? "" : ", ", d);
      absl::StrAppend(&header, ", ", JsonQuote(name), ": {\"dtype\": \"", DTypeName(dtype), "\", \"shape\": [", shape,
                      "], \"data_offsets\": [", offset, ", ", offset + bytes, "]}");
      offset += bytes;
      contiguous.push_back(std::move(t));
    }
    header += "}";
    while ((header.size() + 8) % 8 != 0) header += ' ';
    std::string out;
    out.reserve(8 + header.size() + offset);
    const uint64_t header_size = header.size();
    out.append(reinterpret_cast<const char*>(&header_size), 8);
    out += header;
    for (const torch::Tensor& t : contiguous) {
      out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
    }
    return WriteFileAtomically(path, out);
  });
}

}  // namespace skillsd::model
