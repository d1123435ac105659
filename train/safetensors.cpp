#include "train/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"

namespace moelab::train {

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  MOELAB_CHECK(fd >= 0, "cannot write ", tmp, ": ", std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error("cannot write " + path + ": " + std::strerror(err));
    }
    done += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Error("cannot write " + path + ": " + std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Error("cannot write " + path + ": " + std::strerror(err));
  }
}

namespace {
// FNV-1a over 64-bit little-endian words, then the tail bytes: a cheap guard against truncated or
// bit-flipped tensor data (not a cryptographic hash).
std::string data_checksum(const char* data, size_t size) {
  uint64_t h = 0xcbf29ce484222325ULL;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t w;
    std::memcpy(&w, data + i, 8);
    h = (h ^ w) * 0x100000001b3ULL;
  }
  for (; i < size; ++i) h = (h ^ static_cast<unsigned char>(data[i])) * 0x100000001b3ULL;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}
constexpr const char* kChecksumKey = "moelab_data_fnv64";
}  // namespace

void write_safetensors(const std::string& path, const SafeTensors& st_in) {
  SafeTensors st = st_in;
  {  // checksum of the data section, as it will be laid out
    std::string data;
    for (const auto& [name, t] : st.tensors) data.append(reinterpret_cast<const char*>(t.data()), t.numel() * 4);
    st.metadata[kChecksumKey] = data_checksum(data.data(), data.size());
  }
  nlohmann::json header = nlohmann::json::object();
  size_t offset = 0;
  for (const auto& [name, t] : st.tensors) {
    const size_t bytes = static_cast<size_t>(t.numel()) * 4;
    header[name] = {{"dtype", "F32"}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!st.metadata.empty()) header["__metadata__"] = st.metadata;
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  std::string out;
  out.reserve(8 + h.size() + offset);
  const uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xFF);
  out += h;
  static_assert(std::endian::native == std::endian::little, "moelab writes little-endian float32 directly");
  for (const auto& [name, t] : st.tensors) out.append(reinterpret_cast<const char*>(t.data()), t.numel() * 4);
  write_file_atomic(path, out);
}

namespace {
float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal
      int e = -1;
      uint32_t m = mant;
      do { ++e; m <<= 1; } while (!(m & 0x400));
      bits = sign | ((127 - 15 - e) << 23) | ((m & 0x3FF) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(bits);
}
}  // namespace

SafeTensors read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MOELAB_CHECK(in, "checkpoint: cannot open ", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string buf = ss.str();
  MOELAB_CHECK(buf.size() >= 8, "checkpoint: ", path, ": ", buf.size(), " bytes is too short for a safetensors file");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(buf[i])) << (8 * i);
  MOELAB_CHECK(n <= buf.size() - 8, "checkpoint: ", path, ": header length ", n, " exceeds the file size ",
               buf.size(), " (truncated or not a safetensors file)");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(buf.substr(8, n));
  } catch (const nlohmann::json::exception& e) {
    throw Error("checkpoint: " + path + ": header is not valid JSON: " + e.what());
  }
  MOELAB_CHECK(header.is_object(), "checkpoint: ", path, ": header is not a JSON object");
  SafeTensors st;
  const size_t data_size = buf.size() - 8 - n;
  const char* data = buf.data() + 8 + n;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& info = it.value();
    if (name == "__metadata__") {
      MOELAB_CHECK(info.is_object(), "checkpoint: ", path, ": __metadata__ is not an object");
      for (auto m = info.begin(); m != info.end(); ++m)
        if (m.value().is_string() && m.key() != kChecksumKey) st.metadata[m.key()] = m.value().get<std::string>();
      continue;
    }
    const std::string where = "checkpoint: " + path + ": tensor " + name;
    MOELAB_CHECK(info.is_object() && info.contains("dtype") && info.contains("shape") && info.contains("data_offsets"),
                 where, ": entry needs dtype, shape and data_offsets");
    const std::string dtype = info.at("dtype").is_string() ? info.at("dtype").get<std::string>() : "?";
    const size_t elem = dtype == "F32" ? 4 : (dtype == "F16" || dtype == "BF16") ? 2 : 0;
    MOELAB_CHECK(elem, where, ": unsupported dtype ", info.at("dtype").dump());
    Shape shape;
    MOELAB_CHECK(info.at("shape").is_array(), where, ": shape is not a list");
    for (const auto& d : info.at("shape")) {
      MOELAB_CHECK(d.is_number_integer() && d.get<int64_t>() >= 0, where, ": bad shape ", info.at("shape").dump());
      shape.push_back(d.get<int64_t>());
    }
    const auto& off = info.at("data_offsets");
    MOELAB_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(),
                 where, ": bad data_offsets");
    const uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    const int64_t numel = numel_of(shape);
    MOELAB_CHECK(b <= e && e <= data_size && e - b == static_cast<uint64_t>(numel) * elem, where, ": data_offsets [",
                 b, ", ", e, "] do not fit ", dtype, " ", shape_str(shape), " in ", data_size, " data bytes");
    Tensor t = Tensor::empty(shape);
    if (dtype == "F32") {
      std::memcpy(t.data(), data + b, numel * 4);
    } else {
      for (int64_t i = 0; i < numel; ++i) {
        uint16_t h;
        std::memcpy(&h, data + b + 2 * i, 2);
        t[i] = dtype == "BF16" ? std::bit_cast<float>(static_cast<uint32_t>(h) << 16) : half_to_float(h);
      }
    }
    st.tensors[name] = t;
  }
  if (header.contains("__metadata__") && header["__metadata__"].is_object() &&
      header["__metadata__"].contains(kChecksumKey)) {
    const std::string want = header["__metadata__"][kChecksumKey].is_string()
                                 ? header["__metadata__"][kChecksumKey].get<std::string>() : "?";
    const std::string got = data_checksum(data, data_size);
    MOELAB_CHECK(want == got, "checkpoint: ", path, ": tensor data checksum ", got, " does not match the recorded ", want,
                 " (the file is corrupted or was changed after it was written)");
  }
  return st;
}

}  // namespace moelab::train
