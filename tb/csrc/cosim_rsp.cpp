// The co-simulation's response log (DPI-C): the wrapper cosim_top (tb/cosim/wrapper.py,
// `_CAP_HDL`) calls cos_rsp at every response handshake of ats_dev_top; Python reads the
// log in bulk once per scheduler step (tb/cosim/ports.py Ports.poll, through ctypes:
// the model is linked with -rdynamic), instead of several VPI reads per response.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

extern "C" {

// One response (tb/cosim/ports.py `_RSP` unpacks this layout).
struct CosRsp {
  uint64_t rdata, pa;
  uint32_t meta;   // {atc hit, fault, cause, thread}
  uint32_t cyc;    // handshake edge
  uint32_t issue;  // edge its command was taken
  uint32_t pad;
};

}  // extern "C"

namespace {
std::vector<CosRsp> g_log;
}

extern "C" {

void cos_rsp(uint32_t meta, uint64_t rdata, uint64_t pa, uint32_t cyc, uint32_t issue) {
  g_log.push_back(CosRsp{rdata, pa, meta, cyc, issue, 0});
}

// Copy up to n responses (handshake order) into out and drop them; returns how many.
size_t cos_rsp_drain(CosRsp* out, size_t n) {
  const size_t k = g_log.size() < n ? g_log.size() : n;
  if (k) {
    std::memcpy(out, g_log.data(), k * sizeof(CosRsp));
    g_log.erase(g_log.begin(), g_log.begin() + static_cast<long>(k));
  }
  return k;
}

size_t cos_rsp_pending() { return g_log.size(); }
void cos_rsp_clear() { g_log.clear(); }

}  // extern "C"
