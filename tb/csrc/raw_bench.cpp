// Bare Verilator harness of ats_dev_top: the ceiling the co-simulation is measured against.
//
//   raw_bench WORKLOAD.bin [REPS] [+ats_assert_log=PATH]
//
// Everything the co-simulation does in Python for a device-bound run, done in
// C++ with nothing else: a clock loop, the project's C++ AXI4 slave
// (tb/csrc/axi_slave.cpp, the one every testbench uses, called here directly at
// each rising edge as its DPI shim calls it in a simulator) over the host memory
// image the model exported (model/bench_workload.py: page tables, PASID table,
// data pages), and per device thread a command list issued in program order, one
// command outstanding per thread. Every response is checked against the
// expected fault bit and read data the model exported; a mismatch, a bound
// assertion, an AXI protocol surprise or a thread without a response for
// `watchdog` cycles ends the run with a message and a non-zero exit.
//
// Same timing as the co-simulation's bench run (tb/cosim/, CosimConfig
// latency (L, L), no back-pressure, no reordering), with the same slave:
//  * an AR or AW+W handshake at edge e is performed on memory at once and its
//    R/B beat is presented in cycle e+L-2 (handshake at edge e+L-1), after the
//    previous beat of the channel, one beat per cycle: the slave's latency L-1
//    from acceptance, as tb/cosim/axi_port.py configures it;
//  * exclusive accesses (ARLOCK/AWLOCK): the slave's own exclusive monitor, with
//    the rules of model/memory.py (an exclusive read reserves the 8-byte granule
//    for its AXI ID, EXOKAY; any write to the granule clears every reservation on
//    it; an exclusive write is performed, EXOKAY, only while its ID holds the
//    reservation, else OKAY with memory untouched);
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
#include <memory>
#include <string>
#include <vector>

#include "Vats_dev_top.h"
#include "axi_slave.h"
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
    // the slave: quiet during reset, serving a fresh copy of the run's memory image
    axs_reset(cyc_, 1, 0);
    pages_.clear();
    for (const auto& [pfn, bytes] : r.frames) {
      pages_.emplace_back(new uint8_t[kPage]);
      std::memcpy(pages_.back().get(), bytes.data(), kPage);
      axs_map_page(pfn, pages_.back().get());
    }
    axs_set_timing(latency_ - 1, latency_ - 1, 0.0, 0, 0, 0);
    for (int ch = 0; ch < 3; ch++) axs_set_stall(ch, 0.0, 1, 1);
    uint32_t nthreads = 0;
    for (const auto& c : r.cmds) nthreads = std::max<uint32_t>(nthreads, c.thread + 1u);
    std::vector<std::vector<const Cmd*>> per(nthreads);
    for (const auto& c : r.cmds) per[c.thread].push_back(&c);
    std::vector<size_t> next(nthreads, 0), answered(nthreads, 0);
    std::vector<bool> busy(nthreads, false);
    std::vector<uint64_t> since(nthreads, 0), issued(nthreads, 0);
    std::deque<const Cmd*> queue;

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
    top_->m_axi_awready = 0;
    top_->m_axi_wready = 0;
    top_->m_axi_arready = 0;
    top_->m_axi_rvalid = 0;
    top_->m_axi_bvalid = 0;
    top_->m_axi_rlast = 1;
    top_->clk_i = 0;
    top_->eval();
    for (int i = 0; i < 3; i++) edge();
    top_->rst_ni = 1;
    top_->eval();
    axs_start(cyc_);  // READYs up from the next edge (as Ports.reset, which starts the slave here)
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
      const bool rsp = top_->rsp_valid_o && top_->rsp_ready_i;
      const bool cmd = top_->cmd_valid_i && top_->cmd_ready_o;
      const uint32_t rthread = top_->rsp_thread_o;
      const bool rfault = top_->rsp_fault_o;
      const uint64_t rdata = top_->rsp_rdata_o;
      edge_high();  // edge cyc_ (the slave takes its handshakes and performs them on memory)
      const uint64_t e = cyc_;
      if (axs_protocol_errors())
        die(5, "run %d rep %d: AXI protocol at cycle %" PRIu64 ": %s", run_index, rep, e, axs_protocol_error(0));
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
      // inputs for cycle e: the host's step (the scheduler's quiet point)
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
    tot.axi_reads += axs_count(0);
    tot.axi_writes += axs_count(1);
  }

 private:
  // Rising edge: the slave's call at this edge (what its DPI shim does in a simulator), with
  // the master's outputs before the edge; its answers are registered: the RTL sees them
  // from this edge on.
  void edge_high() {
    unsigned char arready, awready, wready, rvalid, bvalid;
    uint32_t rid, rresp, bid, bresp;
    uint64_t rdata;
    axs_tick(top_->m_axi_arvalid, top_->m_axi_arid, top_->m_axi_araddr, top_->m_axi_arlen, top_->m_axi_arsize,
             top_->m_axi_arlock, top_->m_axi_awvalid, top_->m_axi_awid, top_->m_axi_awaddr, top_->m_axi_awlen,
             top_->m_axi_awsize, top_->m_axi_awlock, top_->m_axi_wvalid, top_->m_axi_wdata, top_->m_axi_wstrb,
             top_->m_axi_wlast, top_->m_axi_rready, top_->m_axi_bready, &arready, &awready, &wready, &rvalid, &rid,
             &rdata, &rresp, &bvalid, &bid, &bresp);
    top_->clk_i = 1;
    top_->eval();
    ctx_->timeInc(5);
    cyc_++;
    top_->m_axi_arready = arready;
    top_->m_axi_awready = awready;
    top_->m_axi_wready = wready;
    top_->m_axi_rvalid = rvalid;
    top_->m_axi_rid = rid;
    top_->m_axi_rdata = rdata;
    top_->m_axi_rresp = rresp;
    top_->m_axi_bvalid = bvalid;
    top_->m_axi_bid = bid;
    top_->m_axi_bresp = bresp;
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
  VerilatedContext* ctx_;
  std::unique_ptr<Vats_dev_top> top_;
  const uint32_t latency_, step_, watchdog_;
  std::vector<std::unique_ptr<uint8_t[]>> pages_;  // the run's memory image, served by the slave in place
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
