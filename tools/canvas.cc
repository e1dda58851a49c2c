#include "tools/canvas.h"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>

namespace skillsd {

Canvas::Canvas(int width, int height) : width_(width), height_(height), rgb_(3 * width * height, 255) {}

void Canvas::Set(int x, int y, uint32_t rgb) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  uint8_t* p = &rgb_[3 * (y * width_ + x)];
  p[0] = rgb >> 16;
  p[1] = (rgb >> 8) & 0xFF;
  p[2] = rgb & 0xFF;
}

uint32_t Canvas::Pixel(int x, int y) const {
  const uint8_t* p = &rgb_[3 * (y * width_ + x)];
  return (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2];
}

void Canvas::Line(int x0, int y0, int x1, int y1, uint32_t rgb, int thickness) {
  // Bresenham, with a square pen.
  const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  int err = dx + dy;
  while (true) {
    for (int a = 0; a < thickness; ++a) {
      for (int b = 0; b < thickness; ++b) Set(x0 + a - thickness / 2, y0 + b - thickness / 2, rgb);
    }
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}

void Canvas::Rect(int x0, int y0, int x1, int y1, uint32_t rgb) {
  for (int y = std::min(y0, y1); y <= std::max(y0, y1); ++y) {
    for (int x = std::min(x0, x1); x <= std::max(x0, x1); ++x) Set(x, y, rgb);
  }
}

namespace {

void PutU32(std::string* out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out->push_back(static_cast<char>((v >> s) & 0xFF));
}

void Chunk(std::string* png, const char* type, const std::string& data) {
  PutU32(png, static_cast<uint32_t>(data.size()));
  std::string body = std::string(type, 4) + data;
  png->append(body);
  PutU32(png, static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size())));
}

}  // namespace

std::string Canvas::Png() const {
  std::string raw;  // each row: filter byte 0, then RGB
  for (int y = 0; y < height_; ++y) {
    raw.push_back(0);
    raw.append(reinterpret_cast<const char*>(&rgb_[3 * y * width_]), 3 * width_);
  }
  uLongf size = compressBound(raw.size());
  std::string compressed(size, '\0');
  compress2(reinterpret_cast<Bytef*>(compressed.data()), &size, reinterpret_cast<const Bytef*>(raw.data()), raw.size(),
            9);
  compressed.resize(size);
  std::string png = "\x89PNG\r\n\x1a\n";
  std::string header;
  PutU32(&header, static_cast<uint32_t>(width_));
  PutU32(&header, static_cast<uint32_t>(height_));
  header += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB, deflate, no filter, no interlace
  Chunk(&png, "IHDR", header);
  Chunk(&png, "IDAT", compressed);
  Chunk(&png, "IEND", "");
  return png;
}

}  // namespace skillsd
