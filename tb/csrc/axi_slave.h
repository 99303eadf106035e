// The C++ AXI4 memory slave's C interface (tb/csrc/axi_slave.cpp): shared by the DPI shim's
// simulators (through ctypes, tb/axi_mem.py and tb/cosim/axi_port.py) and the bare harness
// tb/csrc/raw_bench.cpp, which calls it directly.
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" {

// One access, as shared with Python (tb/axi_mem.py `_Acc` mirrors this layout).
struct AxsAcc {
  uint64_t seq, addr, data, accept, due, perform, done;
  uint32_t id;
  uint8_t write, strb, lock, resp, held, drop, pad[2];
};

typedef void (*axs_acc_cb)(AxsAcc* a);  // on acceptance (may set held / due / drop) and completion
typedef void (*axs_page_cb)(uint64_t pfn);  // a write to an unmapped page: map it
// exclusive monitor of the host: kind 0 = exclusive read (returns the value in *v),
// 1 = exclusive write (returns 1 if performed), 2 = plain write of a granule that may be reserved
typedef int (*axs_excl_cb)(int kind, uint32_t id, uint64_t pa, uint64_t* v, uint32_t strb);
// error classifier, asked before an access is performed (when no range decided it):
// returns 0 (answer normally), 2 (SLVERR) or 3 (DECERR)
typedef int (*axs_err_cb)(int write, uint32_t id, uint64_t addr);

// called at every rising edge with the master's outputs before the edge; returns the
// slave's outputs for the cycle that follows (the caller registers them)
void axs_tick(unsigned char arvalid, uint32_t arid, uint64_t araddr, uint32_t arlen, uint32_t arsize,
              unsigned char arlock, unsigned char awvalid, uint32_t awid, uint64_t awaddr, uint32_t awlen,
              uint32_t awsize, unsigned char awlock, unsigned char wvalid, uint64_t wdata, uint32_t wstrb,
              unsigned char wlast, unsigned char rready, unsigned char bready, unsigned char* arready,
              unsigned char* awready, unsigned char* wready, unsigned char* rvalid, uint32_t* rid,
              uint64_t* rdata, uint32_t* rresp, unsigned char* bvalid, uint32_t* bid, uint32_t* bresp);

void axs_reset(uint64_t cycle, uint64_t seed, int active);
void axs_start(uint64_t cycle);
void axs_set_active(int active);
void axs_set_exclusive(int on);
void axs_set_seed(uint64_t seed);
uint64_t axs_cycle();
void axs_set_timing(uint32_t lat_lo, uint32_t lat_hi, double tail_p, uint32_t tail_lo, uint32_t tail_hi,
                    int reorder);
void axs_set_id_latency(uint32_t id_mask, uint32_t id_match, uint32_t lo, uint32_t hi);
void axs_set_stall(int ch, double p, uint32_t lo, uint32_t hi);
int axs_add_range(uint64_t lo, uint64_t hi, int kind, uint32_t cycles, int reads, int writes, uint32_t id_mask,
                  uint32_t id_match, int64_t count);
uint64_t axs_range_hits(int i);
int64_t axs_range_count(int i);
void axs_range_remove(int i);
int axs_release(uint64_t seq);
size_t axs_inflight();
void axs_map_page(uint64_t pfn, uint8_t* p);
void axs_set_callbacks(axs_acc_cb accept, axs_acc_cb done, axs_page_cb page, axs_excl_cb excl);
void axs_set_error_cb(axs_err_cb cb);
void axs_set_log(int on);
size_t axs_drain(AxsAcc* out, size_t n);
size_t axs_drain_done(uint64_t* seqs, uint64_t* cycles, size_t n);
uint64_t axs_count(int write);
size_t axs_protocol_errors();
const char* axs_protocol_error(size_t i);
uint64_t axs_peek(uint64_t pa);

}  // extern "C"
