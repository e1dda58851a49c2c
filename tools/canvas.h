// A minimal RGB canvas that draws lines and rectangles and writes PNG (the run report's learning curves).
#ifndef SKILLSD_TOOLS_CANVAS_H_
#define SKILLSD_TOOLS_CANVAS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace skillsd {

// A minimal RGB canvas that writes PNG (zlib-compressed, no text).
class Canvas {
 public:
  Canvas(int width, int height);
  void Line(int x0, int y0, int x1, int y1, uint32_t rgb, int thickness = 1);
  void Rect(int x0, int y0, int x1, int y1, uint32_t rgb);  // filled
  std::string Png() const;
  int width() const { return width_; }
  int height() const { return height_; }
  uint32_t Pixel(int x, int y) const;

 private:
  void Set(int x, int y, uint32_t rgb);
  int width_, height_;
  std::vector<uint8_t> rgb_;
};

}  // namespace skillsd

#endif  // SKILLSD_TOOLS_CANVAS_H_
