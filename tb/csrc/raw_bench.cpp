// Bare Verilator harness of ats_dev_top: the ceiling the co-simulation is measured against.
//
//   raw_bench WORKLOAD.bin [REPS] [+ats_assert_log=PATH]
//
// Everything the co-simulation does in Python for a device-bound run, done in
// C++ with nothing else: a clock loop, an AXI4 slave over the host memory image
// the model exported (model/bench_workload.py: page tables, PASID table, data
// pages), and per device thread a command list issued in program order, one
// command outstanding per thread. Every response is checked against the
// expected fault bit and read data the model exported; a mismatch, a bound
// assertion, an AXI protocol surprise or a thread without a response for
// `watchdog` cycles ends the run with a message and a non-zero exit.
//
// Same timing as the co-simulation's bench run (tb/rtldev.py, CosimConfig
// latency (L, L), no back-pressure, no reordering):
//  * an AR or AW+W handshake at edge e is performed on memory at once and its
//    R/B beat is presented in cycle e+L-2 (handshake at edge e+L-1), after the
//    previous beat of the channel, one beat per cycle. That is what the
//    co-simulation's slave does with latency L: Ports._book books cycle
//    e+L-1, and the wrapper presents a slot while `rs_cyc == cyc_q`, which is
//    the cycle before (cyc_q = k+1 during cycle k: the clock's rise at time 0
//    counts). Checked: with L = 2 both give every response on the same cycle;
//  * exclusive accesses (ARLOCK/AWLOCK): an exclusive read reserves the 8-byte
//    granule for its AXI ID (EXOKAY); any write to the granule clears every
//    reservation on it; an exclusive write is performed (EXOKAY) only while its
//    ID holds the reservation, else OKAY with memory untouched (model/memory.py);
//  * commands are handed to the device on the host scheduler's step grid
//    (model/scheduler.py, script mode): every `step` cycles, each idle thread
//    with work left (in thread order) queues its next command; the queue
//    presents one command at a time until its handshake.
// Output: one JSON line on stdout (accesses, cycles, cpu/wall seconds of the
// simulation loops: reset, run and checks; loading the file is not counted).

#include <algorithm>
#include <cstdarg>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "Vats_dev_top.h"
#include "verilated.h"

namespace {

constexpr uint64_t kPage = 4096;

struct Cmd {
  uint8_t thread, write, exp_fault, check;
  uint32_t pasid;
  uint64_t va, wdata, exp_rdata;
};

struct Run {
  uint64_t tbl_base = 0;
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> frames;
  std::vector<Cmd> cmds;
};

struct Beat {
  uint8_t id, resp;
  uint64_t data;
};

[[noreturn]] void die(int code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void die(int code, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "raw_bench: ");
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
  std::exit(code);
}

class Reader {
 public:
  explicit Reader(const char* path) : path_(path) {
    FILE* f = std::fopen(path, "rb");
    if (!f) die(1, "%s: cannot open", path);
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data_.insert(data_.end(), buf, buf + n);
    std::fclose(f);
  }
  template <typename T>
  T get(const char* field) {
    if (pos_ + sizeof(T) > data_.size()) die(1, "%s: truncated at byte %zu (%s)", path_, pos_, field);
    T v;
    std::memcpy(&v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  void bytes(uint8_t* out, size_t n, const char* field) {
    if (pos_ + n > data_.size()) die(1, "%s: truncated at byte %zu (%s)", path_, pos_, field);
    std::memcpy(out, data_.data() + pos_, n);
    pos_ += n;
  }
  bool at_end() const { return pos_ == data_.size(); }

 private:
  const char* path_;
  std::vector<uint8_t> data_;
  size_t pos_ = 0;
};

// Sparse physical memory with the AXI exclusive monitor (as model/memory.py).
class Mem {
 public:
  void load(const Run& r) {
    pages_.clear();
    resv_.clear();
    for (const auto& [pfn, bytes] : r.frames) std::memcpy(page(pfn), bytes.data(), kPage);
  }
  uint64_t read64(uint64_t pa) {
    auto it = pages_.find(pa / kPage);
    if (it == pages_.end()) return 0;
    uint64_t v;
    std::memcpy(&v, it->second.get() + (pa % kPage), 8);
    return v;
  }
  void write(uint64_t pa, uint64_t v, uint8_t strb) {
    unreserve(pa >> 3);
    uint8_t* p = page(pa / kPage) + (pa % kPage);
    for (int i = 0; i < 8; i++)
      if (strb >> i & 1) p[i] = static_cast<uint8_t>(v >> (8 * i));
  }
  uint64_t read_exclusive(uint8_t id, uint64_t pa) {
    resv_[id] = pa >> 3;
    return read64(pa);
  }
  bool write_exclusive(uint8_t id, uint64_t pa, uint64_t v, uint8_t strb) {
    auto it = resv_.find(id);
    bool ok = it != resv_.end() && it->second == (pa >> 3);
    if (it != resv_.end()) resv_.erase(it);
    if (ok) write(pa, v, strb);
    return ok;
  }

 private:
  uint8_t* page(uint64_t pfn) {
    auto& p = pages_[pfn];
    if (!p) {
      p.reset(new uint8_t[kPage]);
      std::memset(p.get(), 0, kPage);
    }
    return p.get();
  }
  void unreserve(uint64_t granule) {
    for (auto it = resv_.begin(); it != resv_.end();)
      it = it->second == granule ? resv_.erase(it) : std::next(it);
  }
  std::unordered_map<uint64_t, std::unique_ptr<uint8_t[]>> pages_;
  std::unordered_map<uint8_t, uint64_t> resv_;
};

struct Totals {
  uint64_t accesses = 0, cycles = 0, axi_reads = 0, axi_writes = 0;
};

class Harness {
 public:
  Harness(VerilatedContext* ctx, uint32_t latency, uint32_t step, uint32_t watchdog)
      : ctx_(ctx), top_(new Vats_dev_top{ctx}), latency_(latency), step_(step), watchdog_(watchdog) {}
  ~Harness() { top_->final(); }
  FILE* log_ = nullptr;  // RAW_BENCH_LOG: one line per response (run, thread, index, issue and response cycle)

  void run(const Run& r, int run_index, int rep, Totals& tot) {
    mem_.load(r);
    uint32_t nthreads = 0;
    for (const auto& c : r.cmds) nthreads = std::max<uint32_t>(nthreads, c.thread + 1u);
    std::vector<std::vector<const Cmd*>> per(nthreads);
    for (const auto& c : r.cmds) per[c.thread].push_back(&c);
    std::vector<size_t> next(nthreads, 0), answered(nthreads, 0);
    std::vector<bool> busy(nthreads, false);
    std::vector<uint64_t> since(nthreads, 0), issued(nthreads, 0);
    std::deque<const Cmd*> queue;
    rbeats_.clear();
    bbeats_.clear();
    rlast_ = blast_ = 0;

    // reset (3 cycles low, as Ports.reset), idle inputs, READYs high
    top_->rst_ni = 0;
    top_->pasid_tbl_base_i = r.tbl_base;
    top_->pri_en_i = 0;
    top_->atc_wp_fault_i = 0;
    top_->cmd_valid_i = 0;
    top_->rsp_ready_i = 1;
    top_->inv_valid_i = 0;
    top_->invc_ready_i = 1;
    top_->pr_ready_i = 1;
    top_->prgr_valid_i = 0;
    top_->m_axi_awready = 1;
    top_->m_axi_wready = 1;
    top_->m_axi_arready = 1;
    top_->m_axi_rvalid = 0;
    top_->m_axi_bvalid = 0;
    top_->clk_i = 0;
    top_->eval();
    for (int i = 0; i < 3; i++) edge();
    top_->rst_ni = 1;
    top_->eval();
    const uint64_t k0 = cyc_;  // cycle 0 of the run (the scheduler's first step, as RtlDevice.begin)
    // the host's quiet point of cycle e: on the step grid each idle thread with work left
    // queues its next command (thread order); the queue presents its head
    auto host_step = [&](uint64_t e) {
      if ((e - k0) % step_ == 0) {
        for (uint32_t t = 0; t < nthreads; t++) {
          if (!busy[t] && next[t] < per[t].size()) {
            queue.push_back(per[t][next[t]++]);
            busy[t] = true;
            since[t] = e;
          }
        }
      }
      if (!queue.empty()) {
        const Cmd& c = *queue.front();
        top_->cmd_valid_i = 1;
        top_->cmd_thread_i = c.thread;
        top_->cmd_write_i = c.write;
        top_->cmd_pasid_i = c.pasid;
        top_->cmd_va_i = c.va;
        top_->cmd_wdata_i = c.wdata;
      } else {
        top_->cmd_valid_i = 0;
      }
    };
    host_step(k0);
    top_->eval();
    size_t done = 0;
    const size_t total = r.cmds.size();
    uint64_t last_rsp = cyc_;
    while (done < total) {
      // handshakes of this cycle, sampled before the edge
      const bool ar = top_->m_axi_arvalid && top_->m_axi_arready;
      const bool aw = top_->m_axi_awvalid && top_->m_axi_awready;
      const bool w = top_->m_axi_wvalid && top_->m_axi_wready;
      const bool rsp = top_->rsp_valid_o && top_->rsp_ready_i;
      const bool cmd = top_->cmd_valid_i && top_->cmd_ready_o;
      const uint8_t arid = top_->m_axi_arid, awid = top_->m_axi_awid;
      const uint64_t araddr = top_->m_axi_araddr, awaddr = top_->m_axi_awaddr, wdata = top_->m_axi_wdata;
      const bool arlock = top_->m_axi_arlock, awlock = top_->m_axi_awlock;
      const uint8_t wstrb = top_->m_axi_wstrb;
      const uint32_t rthread = top_->rsp_thread_o;
      const bool rfault = top_->rsp_fault_o;
      const uint64_t rdata = top_->rsp_rdata_o;
      if (ar && (top_->m_axi_arlen != 0 || top_->m_axi_arsize != 3))
        die(5, "AR with arlen %u arsize %u at cycle %" PRIu64 ": the slave serves single 8-byte beats",
            top_->m_axi_arlen, top_->m_axi_arsize, cyc_);
      if (aw != w) die(5, "AW and W handshakes apart at cycle %" PRIu64 ": the slave takes them together", cyc_);
      edge_high();  // edge cyc_
      const uint64_t e = cyc_;
      if (ar) {
        if (araddr & 7) die(5, "AR address %#" PRIx64 " not 8-byte aligned", araddr);
        tot.axi_reads++;
        const uint64_t v = arlock ? mem_.read_exclusive(arid, araddr) : mem_.read64(araddr);
        book(rbeats_, rlast_, e, Beat{arid, static_cast<uint8_t>(arlock ? 1 : 0), v});
      }
      if (aw) {
        if (awaddr & 7) die(5, "AW address %#" PRIx64 " not 8-byte aligned", awaddr);
        tot.axi_writes++;
        bool exok = false;
        if (awlock) exok = mem_.write_exclusive(awid, awaddr, wdata, wstrb);
        else mem_.write(awaddr, wdata, wstrb);
        book(bbeats_, blast_, e, Beat{awid, static_cast<uint8_t>(exok ? 1 : 0), 0});
      }
      if (cmd) {
        issued[queue.front()->thread] = e;
        queue.pop_front();
      }
      if (rsp) {
        if (rthread >= nthreads || !busy[rthread])
          die(2, "run %d rep %d: response for thread %u, which has nothing outstanding (cycle %" PRIu64 ")",
              run_index, rep, rthread, e);
        const Cmd& c = *per[rthread][answered[rthread]];
        if (rfault != static_cast<bool>(c.exp_fault) || (c.check && !c.write && rdata != c.exp_rdata))
          die(2,
              "MISMATCH run %d rep %d thread %u command %zu (%s va %#" PRIx64 "): fault %d data %#" PRIx64
              ", expected fault %d data %#" PRIx64 " (cycle %" PRIu64 ")",
              run_index, rep, rthread, answered[rthread], c.write ? "write" : "read", c.va, rfault ? 1 : 0, rdata,
              c.exp_fault, c.exp_rdata, e);
        if (log_) std::fprintf(log_, "%d %u %zu %" PRIu64 " %" PRIu64 "\n", run_index, rthread, answered[rthread],
                               issued[rthread] - k0, e - k0);
        answered[rthread]++;
        busy[rthread] = false;
        done++;
        tot.accesses++;
        last_rsp = e;
      }
      // inputs for cycle e: the booked beats, then the host's step (the scheduler's quiet point)
      present(rbeats_, true, e);
      present(bbeats_, false, e);
      host_step(e);
      edge_low();
      if (ctx_->gotFinish() || ctx_->gotError())
        die(3, "run %d rep %d: the simulation stopped at cycle %" PRIu64 " (a bound assertion failed?)", run_index,
            rep, cyc_);
      if (done < total && e - last_rsp > watchdog_) {
        for (uint32_t t = 0; t < nthreads; t++) {
          if (busy[t] && e - since[t] > watchdog_) {
            const Cmd& c = *per[t][answered[t]];
            die(4, "WATCHDOG run %d rep %d: thread %u command %zu (%s va %#" PRIx64 ") unanswered for %u cycles",
                run_index, rep, t, answered[t], c.write ? "write" : "read", c.va, watchdog_);
          }
        }
        die(4, "WATCHDOG run %d rep %d: no response for %u cycles", run_index, rep, watchdog_);
      }
    }
    tot.cycles += cyc_ - k0;
  }

 private:
  void edge_high() {
    top_->clk_i = 1;
    top_->eval();
    ctx_->timeInc(5);
    cyc_++;
  }
  void edge_low() {
    top_->clk_i = 0;
    top_->eval();
    ctx_->timeInc(5);
  }
  void edge() {
    edge_high();
    edge_low();
  }
  // the cycle the beat of a request accepted at edge e is presented in (see the header)
  void book(std::map<uint64_t, Beat>& beats, uint64_t& last, uint64_t e, Beat b) {
    uint64_t want = e + latency_ - 2;
    if (want < e) want = e;
    if (want < last + 1) want = last + 1;
    while (beats.count(want)) want++;
    beats.emplace(want, b);
    last = want;
  }
  void present(std::map<uint64_t, Beat>& beats, bool r, uint64_t cycle) {
    auto it = beats.find(cycle);
    const bool v = it != beats.end();
    if (r) {
      top_->m_axi_rvalid = v;
      top_->m_axi_rlast = v;
      if (v) {
        top_->m_axi_rid = it->second.id;
        top_->m_axi_rdata = it->second.data;
        top_->m_axi_rresp = it->second.resp;
      }
    } else {
      top_->m_axi_bvalid = v;
      if (v) {
        top_->m_axi_bid = it->second.id;
        top_->m_axi_bresp = it->second.resp;
      }
    }
    if (v) beats.erase(it);  // RREADY/BREADY are constant 1 in this RTL: taken at the next edge
  }

  VerilatedContext* ctx_;
  std::unique_ptr<Vats_dev_top> top_;
  const uint32_t latency_, step_, watchdog_;
  Mem mem_;
  std::map<uint64_t, Beat> rbeats_, bbeats_;
  uint64_t rlast_ = 0, blast_ = 0;
  uint64_t cyc_ = 0;
};

double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '+') die(1, "usage: raw_bench WORKLOAD.bin [REPS] [+ats_assert_log=PATH]");
  const int reps = (argc > 2 && argv[2][0] != '+') ? std::atoi(argv[2]) : 1;
  if (reps < 1) die(1, "REPS must be at least 1");
  Reader in(argv[1]);
  char magic[8];
  in.bytes(reinterpret_cast<uint8_t*>(magic), 8, "magic");
  if (std::memcmp(magic, "ATSRAW1\0", 8) != 0) die(1, "%s: not a workload file (magic)", argv[1]);
  const uint32_t nruns = in.get<uint32_t>("runs");
  const uint32_t latency = in.get<uint32_t>("latency");
  const uint32_t step = in.get<uint32_t>("step");
  const uint32_t watchdog = in.get<uint32_t>("watchdog");
  if (latency < 2 || step < 1 || watchdog < 1) die(1, "%s: latency must be >= 2, step and watchdog >= 1", argv[1]);
  std::vector<Run> runs(nruns);
  for (auto& r : runs) {
    r.tbl_base = in.get<uint64_t>("pasid_tbl_base");
    const uint32_t nf = in.get<uint32_t>("frames");
    const uint32_t nc = in.get<uint32_t>("commands");
    for (uint32_t i = 0; i < nf; i++) {
      const uint64_t pfn = in.get<uint64_t>("pfn");
      std::vector<uint8_t> page(kPage);
      in.bytes(page.data(), kPage, "frame");
      r.frames.emplace_back(pfn, std::move(page));
    }
    for (uint32_t i = 0; i < nc; i++) {
      Cmd c;
      c.thread = in.get<uint8_t>("thread");
      c.write = in.get<uint8_t>("write");
      c.exp_fault = in.get<uint8_t>("expected fault");
      c.check = in.get<uint8_t>("check");
      c.pasid = in.get<uint32_t>("pasid");
      c.va = in.get<uint64_t>("va");
      c.wdata = in.get<uint64_t>("wdata");
      c.exp_rdata = in.get<uint64_t>("expected rdata");
      if (c.thread >= 8) die(1, "%s: command %u: thread %u (the device has 8)", argv[1], i, c.thread);
      r.cmds.push_back(c);
    }
  }
  if (!in.at_end()) die(1, "%s: trailing bytes after %u runs", argv[1], nruns);

  auto ctx = std::make_unique<VerilatedContext>();
  ctx->commandArgs(argc, argv);  // +ats_assert_log=PATH for the bound checkers
  Harness h(ctx.get(), latency, step, watchdog);
  if (const char* lp = std::getenv("RAW_BENCH_LOG")) {
    h.log_ = std::fopen(lp, "w");
    if (!h.log_) die(1, "RAW_BENCH_LOG %s: cannot open", lp);
  }
  Totals tot;
  const double c0 = cpu_now();
  const auto w0 = std::chrono::steady_clock::now();
  for (int rep = 0; rep < reps; rep++)
    for (uint32_t i = 0; i < nruns; i++) h.run(runs[i], static_cast<int>(i), rep, tot);
  const double cpu = cpu_now() - c0;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  std::printf(
      "{\"runs\": %u, \"reps\": %d, \"accesses\": %" PRIu64 ", \"cycles\": %" PRIu64 ", \"axi_reads\": %" PRIu64
      ", \"axi_writes\": %" PRIu64 ", \"cpu_seconds\": %.6f, \"wall_seconds\": %.6f, \"latency\": %u, \"step\": %u}\n",
      nruns, reps, tot.accesses, tot.cycles, tot.axi_reads, tot.axi_writes, cpu, wall, latency, step);
  return 0;
}
