// core/tensor.h: a row-major contiguous N-D tensor over shared, 64-byte aligned storage.
// Tensor (float32) carries activations and parameters; IndexTensor (int32) carries token ids,
// targets and routing indices. Copies share storage; reshape is a view; clone copies data.
#pragma once
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <vector>

#include "core/error.h"
#include "core/shape.h"
#include "core/storage.h"

namespace moelab {

template <class T>
class BasicTensor {
 public:
  BasicTensor() = default;

  static BasicTensor empty(const Shape& shape) {
    for (int64_t d : shape) MOELAB_CHECK(d >= 0, "tensor: negative extent in shape ", shape_str(shape));
    BasicTensor t;
    t.shape_ = shape;
    t.storage_ = std::make_shared<Storage>(static_cast<size_t>(numel_of(shape)) * sizeof(T));
    return t;
  }
  static BasicTensor zeros(const Shape& shape) { return full(shape, T(0)); }
  static BasicTensor full(const Shape& shape, T value) {
    BasicTensor t = empty(shape);
    t.fill(value);
    return t;
  }
  static BasicTensor from(const Shape& shape, const std::vector<T>& values) {
    MOELAB_CHECK(static_cast<int64_t>(values.size()) == numel_of(shape), "tensor: ", values.size(),
                 " values do not fill shape ", shape_str(shape));
    BasicTensor t = empty(shape);
    if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * sizeof(T));
    return t;
  }

  bool defined() const { return storage_ != nullptr; }
  T* data() const { return static_cast<T*>(storage_->data()) + offset_; }
  const Shape& shape() const { return shape_; }
  int dim() const { return static_cast<int>(shape_.size()); }
  int64_t size(int d) const { return shape_[normalize_dim(d, dim(), "size")]; }
  int64_t numel() const { return numel_of(shape_); }
  T& operator[](int64_t i) const { return data()[i]; }
  T item() const {
    MOELAB_CHECK(numel() == 1, "item: tensor of shape ", shape_str(shape_), " is not a scalar");
    return data()[0];
  }

  // A view with a new shape over the same storage; one extent may be -1 (inferred).
  BasicTensor reshape(Shape shape) const {
    int64_t known = 1;
    int infer = -1;
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] == -1) {
        MOELAB_CHECK(infer < 0, "reshape: more than one -1 in ", shape_str(shape));
        infer = static_cast<int>(i);
      } else {
        MOELAB_CHECK(shape[i] >= 0, "reshape: negative extent in ", shape_str(shape));
        known *= shape[i];
      }
    }
    if (infer >= 0) {
      MOELAB_CHECK(known > 0 && numel() % known == 0, "reshape: cannot view ", shape_str(shape_), " as ",
                   shape_str(shape));
      shape[infer] = numel() / known;
    }
    MOELAB_CHECK(numel_of(shape) == numel(), "reshape: cannot view ", shape_str(shape_), " (", numel(),
                 " elements) as ", shape_str(shape));
    BasicTensor t = *this;
    t.shape_ = std::move(shape);
    return t;
  }
  // Rows [begin, end) of the leading dimension, as a view.
  BasicTensor slice_rows(int64_t begin, int64_t end) const {
    MOELAB_CHECK(dim() >= 1 && 0 <= begin && begin <= end && end <= shape_[0], "slice_rows: [", begin, ",",
                 end, ") out of range for shape ", shape_str(shape_));
    BasicTensor t = *this;
    t.offset_ += begin * (numel() / std::max<int64_t>(shape_[0], 1));
    t.shape_[0] = end - begin;
    return t;
  }
  BasicTensor clone() const {
    BasicTensor t = empty(shape_);
    if (numel()) std::memcpy(t.data(), data(), numel() * sizeof(T));
    return t;
  }
  void fill(T value) const {
    T* p = data();
    int64_t n = numel();
    if (value == T(0)) {
      if (n) std::memset(p, 0, n * sizeof(T));
    } else {
      for (int64_t i = 0; i < n; ++i) p[i] = value;
    }
  }
  void copy_from(const BasicTensor& src) const {
    MOELAB_CHECK(src.numel() == numel(), "copy_from: ", shape_str(src.shape()), " into ", shape_str(shape_));
    if (numel()) std::memmove(data(), src.data(), numel() * sizeof(T));
  }
  std::vector<T> to_vector() const { return std::vector<T>(data(), data() + numel()); }
  bool shares_storage(const BasicTensor& o) const { return storage_ == o.storage_; }

 private:
  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;  // in elements
  Shape shape_;
};

using Tensor = BasicTensor<float>;
using IndexTensor = BasicTensor<int32_t>;

}  // namespace moelab
