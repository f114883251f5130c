// Detection-model operators: NonMaxSuppression, RoiAlign, and ReverseSequence (sequence models, but it shares
// nothing with the recurrent cells).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "ops/helpers.h"

namespace infera {
namespace {

// ---- NonMaxSuppression ----

constexpr int kBoxes = 0, kScores = 1, kMaxOutput = 2, kIouThreshold = 3, kScoreThreshold = 4;

bool infer_nms(OpContext& ctx) {
  if (ctx.rank(kBoxes) != 3 || ctx.shape(kBoxes)[2] != 4) ctx.fail("boxes must have shape [batches, boxes, 4]");
  if (ctx.rank(kScores) != 3) ctx.fail("scores must have shape [batches, classes, boxes]");
  const Shape& b = ctx.shape(kBoxes);
  const Shape& s = ctx.shape(kScores);
  if (s[0] != b[0] || s[2] != b[1]) ctx.fail("boxes " + shape_str(b) + " and scores " + shape_str(s) + " disagree");
  if (!dtype_is_float(ctx.dtype(kBoxes)) || !dtype_is_float(ctx.dtype(kScores)))
    ctx.fail("boxes and scores must be float tensors");
  const int64_t ch = ctx.node().attr_int("center_point_box", 0);
  if (ch != 0 && ch != 1) ctx.fail("center_point_box must be 0 or 1");
  return false;  // the number of selected boxes depends on the data
}

// A box as corners with y1 <= y2 and x1 <= x2, whichever of the two encodings it came in.
struct Corners {
  double y1, x1, y2, x2;
  double area() const { return (y2 - y1) * (x2 - x1); }
};

Corners read_box(const Tensor& boxes, int64_t offset, bool center_point) {
  const double a = boxes.as_double(offset), b = boxes.as_double(offset + 1);
  const double c = boxes.as_double(offset + 2), d = boxes.as_double(offset + 3);
  if (center_point)  // [x_center, y_center, width, height]
    return {b - d / 2, a - c / 2, b + d / 2, a + c / 2};
  return {std::min(a, c), std::min(b, d), std::max(a, c), std::max(b, d)};
}

double iou(const Corners& p, const Corners& q) {
  const double ih = std::min(p.y2, q.y2) - std::max(p.y1, q.y1);
  const double iw = std::min(p.x2, q.x2) - std::max(p.x1, q.x1);
  if (ih <= 0 || iw <= 0) return 0;
  const double inter = ih * iw;
  const double uni = p.area() + q.area() - inter;
  return uni > 0 ? inter / uni : 0;
}

void nms(OpContext& ctx) {
  const Tensor& boxes = ctx.input(kBoxes);
  const Tensor& scores = ctx.input(kScores);
  auto scalar_input = [&](int i, double dflt) {
    if (!ctx.has_input(i)) return dflt;
    const Tensor& t = ctx.input(i);
    if (t.numel() != 1) ctx.fail("input " + std::to_string(i) + " must hold one value");
    return t.as_double(0);
  };
  const int64_t max_out = int64_t(scalar_input(kMaxOutput, 0));
  const double iou_threshold = scalar_input(kIouThreshold, 0);
  const bool has_score_threshold = ctx.has_input(kScoreThreshold);
  const double score_threshold = scalar_input(kScoreThreshold, 0);
  if (iou_threshold < 0 || iou_threshold > 1) ctx.fail("iou_threshold must be in [0, 1]");
  const bool center_point = ctx.node().attr_int("center_point_box", 0) == 1;
  const int64_t batches = boxes.dim(0), n_boxes = boxes.dim(1), classes = scores.dim(1);

  std::vector<int64_t> selected;  // triples (batch, class, box)
  std::vector<Corners> corners(static_cast<size_t>(n_boxes));
  std::vector<int64_t> order;
  std::vector<int64_t> kept;
  for (int64_t b = 0; b < batches; ++b) {
    for (int64_t i = 0; i < n_boxes; ++i) corners[size_t(i)] = read_box(boxes, (b * n_boxes + i) * 4, center_point);
    for (int64_t c = 0; c < classes; ++c) {
      const int64_t base = (b * classes + c) * n_boxes;
      order.clear();
      for (int64_t i = 0; i < n_boxes; ++i)
        if (!has_score_threshold || scores.as_double(base + i) > score_threshold) order.push_back(i);
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t p, int64_t q) { return scores.as_double(base + p) > scores.as_double(base + q); });
      kept.clear();
      for (int64_t i : order) {
        if (int64_t(kept.size()) >= max_out) break;
        bool suppressed = false;
        for (int64_t k : kept) suppressed = suppressed || iou(corners[size_t(i)], corners[size_t(k)]) > iou_threshold;
        if (suppressed) continue;
        kept.push_back(i);
        selected.insert(selected.end(), {b, c, i});
      }
    }
  }
  Tensor& out = ctx.output(0, DType::Int64, {int64_t(selected.size() / 3), 3});
  std::copy(selected.begin(), selected.end(), out.data<int64_t>());
}

// ---- RoiAlign ----

constexpr int kX = 0, kRois = 1, kBatchIndices = 2;

bool infer_roi_align(OpContext& ctx) {
  if (!dtype_is_float(ctx.dtype(kX)) || ctx.dtype(kRois) != ctx.dtype(kX)) ctx.fail("X and rois must be float");
  if (ctx.rank(kX) != 4) ctx.fail("X must have rank 4");
  if (ctx.rank(kRois) != 2 || ctx.shape(kRois)[1] != 4) ctx.fail("rois must have shape [num_rois, 4]");
  if (ctx.shape(kBatchIndices) != Shape{ctx.shape(kRois)[0]}) ctx.fail("batch_indices must have shape [num_rois]");
  if (!dtype_is_integer(ctx.dtype(kBatchIndices))) ctx.fail("batch_indices must be integers");
  const std::string mode = ctx.node().attr_string("mode", "avg");
  if (mode != "avg" && mode != "max") ctx.fail("mode must be avg or max");
  const std::string ctm = ctx.node().attr_string("coordinate_transformation_mode", "half_pixel");
  if (ctm != "half_pixel" && ctm != "output_half_pixel")
    ctx.fail("unknown coordinate_transformation_mode '" + ctm + "'");
  const int64_t oh = ctx.node().attr_int("output_height", 1), ow = ctx.node().attr_int("output_width", 1);
  if (oh <= 0 || ow <= 0) ctx.fail("output_height and output_width must be positive");
  ctx.set_output(0, ctx.dtype(kX), {ctx.shape(kRois)[0], ctx.shape(kX)[1], oh, ow});
  return true;
}

// One bilinear sample: four pixel offsets and their weights (all zero outside the map).
struct Sample {
  int64_t pos[4] = {0, 0, 0, 0};
  double w[4] = {0, 0, 0, 0};
};

Sample bilinear_sample(double y, double x, int64_t height, int64_t width) {
  Sample s;
  if (y < -1.0 || y > double(height) || x < -1.0 || x > double(width)) return s;
  y = std::max(y, 0.0);
  x = std::max(x, 0.0);
  int64_t y0 = int64_t(y), x0 = int64_t(x), y1, x1;
  if (y0 >= height - 1) { y1 = y0 = height - 1; y = double(y0); } else { y1 = y0 + 1; }
  if (x0 >= width - 1) { x1 = x0 = width - 1; x = double(x0); } else { x1 = x0 + 1; }
  const double ly = y - double(y0), lx = x - double(x0), hy = 1 - ly, hx = 1 - lx;
  s.pos[0] = y0 * width + x0;
  s.pos[1] = y0 * width + x1;
  s.pos[2] = y1 * width + x0;
  s.pos[3] = y1 * width + x1;
  s.w[0] = hy * hx;
  s.w[1] = hy * lx;
  s.w[2] = ly * hx;
  s.w[3] = ly * lx;
  return s;
}

// Max mode takes the largest weighted corner of each sample, as the ONNX reference and onnxruntime do.
void roi_align(OpContext& ctx) {
  const Node& n = ctx.node();
  const bool max_mode = n.attr_string("mode", "avg") == "max";
  // Opset 10 had no attribute and behaved as output_half_pixel.
  const bool half_pixel = ctx.opset() >= 16 &&
                          n.attr_string("coordinate_transformation_mode", "half_pixel") == "half_pixel";
  const double scale = n.attr_float("spatial_scale", 1.0f);
  const int64_t sampling_ratio = n.attr_int("sampling_ratio", 0);
  const Tensor& x = ctx.input(kX);
  const Tensor& rois = ctx.input(kRois);
  const Tensor& batch_indices = ctx.input(kBatchIndices);
  Tensor& y = ctx.output(0);
  const int64_t channels = x.dim(1), height = x.dim(2), width = x.dim(3);
  const int64_t pooled_h = y.dim(2), pooled_w = y.dim(3);
  visit_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    std::vector<Sample> samples;
    for (int64_t r = 0; r < rois.dim(0); ++r) {
      const int64_t batch = batch_indices.as_int(r);
      if (batch < 0 || batch >= x.dim(0)) ctx.fail("batch index " + std::to_string(batch) + " is out of range");
      const double offset = half_pixel ? 0.5 : 0.0;
      const double start_w = rois.as_double(r * 4) * scale - offset;
      const double start_h = rois.as_double(r * 4 + 1) * scale - offset;
      double roi_w = rois.as_double(r * 4 + 2) * scale - offset - start_w;
      double roi_h = rois.as_double(r * 4 + 3) * scale - offset - start_h;
      if (!half_pixel) {  // malformed ROIs are forced to 1x1
        roi_w = std::max(roi_w, 1.0);
        roi_h = std::max(roi_h, 1.0);
      }
      const double bin_h = roi_h / double(pooled_h), bin_w = roi_w / double(pooled_w);
      const int64_t grid_h = sampling_ratio > 0 ? sampling_ratio : int64_t(std::ceil(roi_h / double(pooled_h)));
      const int64_t grid_w = sampling_ratio > 0 ? sampling_ratio : int64_t(std::ceil(roi_w / double(pooled_w)));
      const double count = double(std::max<int64_t>(grid_h * grid_w, 1));
      samples.clear();
      for (int64_t ph = 0; ph < pooled_h; ++ph)
        for (int64_t pw = 0; pw < pooled_w; ++pw)
          for (int64_t iy = 0; iy < grid_h; ++iy) {
            const double sy = start_h + double(ph) * bin_h + (double(iy) + 0.5) * bin_h / double(grid_h);
            for (int64_t ix = 0; ix < grid_w; ++ix) {
              const double sx = start_w + double(pw) * bin_w + (double(ix) + 0.5) * bin_w / double(grid_w);
              samples.push_back(bilinear_sample(sy, sx, height, width));
            }
          }
      const int64_t per_bin = grid_h * grid_w;
      for (int64_t c = 0; c < channels; ++c) {
        const T* plane = px + (batch * channels + c) * height * width;
        T* out = py + (r * channels + c) * pooled_h * pooled_w;
        for (int64_t bin = 0; bin < pooled_h * pooled_w; ++bin) {
          double acc = 0;
          for (int64_t k = 0; k < per_bin; ++k) {
            const Sample& s = samples[size_t(bin * per_bin + k)];
            if (max_mode) {
              double v = s.w[0] * double(plane[s.pos[0]]);
              for (int q = 1; q < 4; ++q) v = std::max(v, s.w[q] * double(plane[s.pos[q]]));
              acc = k == 0 ? v : std::max(acc, v);
            } else {
              for (int q = 0; q < 4; ++q) acc += s.w[q] * double(plane[s.pos[q]]);
            }
          }
          out[bin] = T(max_mode ? acc : acc / count);
        }
      }
    }
  });
}

Cost roi_align_cost(const OpContext& ctx) {
  Cost c = default_cost(ctx);
  const int64_t ratio = ctx.node().attr_int("sampling_ratio", 0);
  c.flops = 8.0 * double(shape_numel(ctx.output_type(0).shape)) * double(ratio > 0 ? ratio * ratio : 4);
  return c;
}

// ---- ReverseSequence ----

bool infer_reverse_sequence(OpContext& ctx) {
  const int rank = ctx.rank(0);
  if (rank < 2) ctx.fail("input must have rank >= 2");
  const int64_t batch_axis = ctx.node().attr_int("batch_axis", 1), time_axis = ctx.node().attr_int("time_axis", 0);
  if (!((batch_axis == 0 && time_axis == 1) || (batch_axis == 1 && time_axis == 0)))
    ctx.fail("batch_axis and time_axis must be 0 and 1 in some order");
  if (ctx.shape(1) != Shape{ctx.shape(0)[size_t(batch_axis)]}) ctx.fail("sequence_lens must have shape [batch]");
  if (ctx.dtype(1) != DType::Int64 && ctx.dtype(1) != DType::Int32) ctx.fail("sequence_lens must be int64");
  if (dtype_size(ctx.dtype(0)) == 0) ctx.fail("unsupported input type");
  return infer_same_as_input(ctx);
}

// Rows are the slices x[b, t, ...] (or x[t, b, ...]); each is moved as a block of bytes.
void reverse_sequence(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& lens = ctx.input(1);
  Tensor& y = ctx.output(0);
  const bool batch_first = ctx.node().attr_int("batch_axis", 1) == 0;
  const int64_t batch = x.dim(batch_first ? 0 : 1), time = x.dim(batch_first ? 1 : 0);
  const size_t row_bytes = size_t(x.numel() / std::max<int64_t>(1, batch * time)) * dtype_size(x.dtype());
  const auto* src = static_cast<const std::byte*>(x.raw());
  auto* dst = static_cast<std::byte*>(y.raw());
  auto row = [&](int64_t b, int64_t t) { return size_t(batch_first ? b * time + t : t * batch + b) * row_bytes; };
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t len = lens.as_int(b);
    if (len < 0 || len > time) ctx.fail("sequence_lens[" + std::to_string(b) + "] is outside [0, time]");
    for (int64_t t = 0; t < time; ++t) std::memcpy(dst + row(b, t), src + row(b, t < len ? len - 1 - t : t), row_bytes);
  }
}

}  // namespace

void register_detection_ops(OpTable& t) {
  t.add({.name = "NonMaxSuppression", .infer = infer_nms, .compute = nms});
  t.add({.name = "RoiAlign", .infer = infer_roi_align, .compute = roi_align, .cost = roi_align_cost});
  t.add({.name = "ReverseSequence", .infer = infer_reverse_sequence, .compute = reverse_sequence});
}

}  // namespace infera
