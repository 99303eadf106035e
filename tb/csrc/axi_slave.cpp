// AXI4 memory slave in C++, inside the Verilator model (DPI-C), shared by the testbenches.
//
// The SystemVerilog shim (tb/csrc/axi_slave_dpi.sv) calls axs_tick() at every rising
// clock edge with the master's outputs as they were before the edge; axs_tick returns
// the slave's outputs for the next cycle (registered in the shim). So no Python runs
// per clock or per beat: Python configures the slave, registers memory pages, and is
// called back only when it asked to be (holds, accept hooks), see tb/axi_mem.py.
//
// Timing (the same as the Python slave it replaces): a transfer whose VALID and READY
// are high in cycle k completes at edge k+1 and is stamped k+1 ("accept"). A read is
// performed on memory at acceptance; a write when both its AW and its W were accepted.
// Its response is due `latency` cycles after acceptance: presented in cycle due-1,
// handshake at edge `due` when RREADY/BREADY is high.
//
// Features:
//  * memory: 4 KiB pages registered by pointer (axs_map_page): the host model's own
//    page buffers, read and written in place, never copied. An unmapped page reads as
//    zero; a write to one asks the page callback to create it (else the slave keeps a
//    page of its own);
//  * latency: uniform in [lo, hi] (one ID class, (id & mask) == match, may have its own
//    [lo, hi]: the co-simulation's walker reads), plus a seeded tail: with probability p
//    the latency is at least a draw from [tail_lo, tail_hi] (the tail only lengthens);
//  * ordering: per-ID order always (AXI); across IDs the earliest due head goes first
//    when reordering is on, else strict acceptance order per channel;
//  * back-pressure: per channel (AR, AW, W), with probability p the next transfer
//    finds READY low for a draw from [lo, hi] cycles of VALID;
//  * errors by address range, per direction and per ID class ((id & mask) == match),
//    with a hit budget: SLVERR or DECERR (memory untouched, reads return 0), no answer
//    (the access stays in flight for ever), a fixed delay, or a flipped bit on the R beat
//    (the access log keeps the value served: a deliberate fault for checkers to find);
//    and, for what ranges cannot say, an error classifier callback asked before memory
//    is touched (the co-simulation's CosimConfig.bus_error);
//  * holds: an access can be held (answered only after axs_release) or given a new due
//    cycle from the accept callback;
//  * exclusive accesses (ARLOCK/AWLOCK): by the excl callback when one is set (the host
//    model's own exclusive monitor), else an internal monitor with the same rules
//    (model/memory.py): an exclusive read reserves the 8-byte granule for its ID; any
//    write to the granule clears it; an exclusive write is performed (EXOKAY) only
//    while its ID holds the reservation, else OKAY with memory untouched. Without a
//    monitor (axs_set_exclusive(0)) exclusive reads answer OKAY and exclusive writes
//    are performed as plain writes (what the AXI spec allows);
//  * an access log (accept order) drained in bulk by axs_drain, and a completion log
//    drained by axs_drain_done, so a caller can read them once per step.
// Protocol surprises (bursts, sizes other than 8 bytes, unaligned addresses, a W beat
// without WLAST) are recorded as text (axs_protocol_error).

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "axi_slave.h"

namespace {

constexpr uint64_t kPage = 4096;
enum Resp : uint8_t { OKAY = 0, EXOKAY = 1, SLVERR = 2, DECERR = 3 };
enum Kind : int { K_SLVERR = 2, K_DECERR = 3, K_DROP = 4, K_DELAY = 5, K_FLIP = 6 };  // K_FLIP: `cycles` = bit

struct Range {
  uint64_t lo, hi;
  int kind;
  uint32_t cycles;
  bool reads, writes;
  uint32_t id_mask, id_match;
  int64_t count;  // remaining hits, < 0: unlimited
  uint64_t hits;
  bool live;
};

struct Stall {
  double p = 0;
  uint32_t lo = 1, hi = 4;
  uint32_t left = 0;   // READY low for this many more cycles of VALID
  bool started = false;  // the current stall has met VALID
};

struct Slave {
  bool active = false;
  uint64_t cyc = 0, seq = 0;
  std::mt19937_64 rng{1};
  uint32_t lat_lo = 1, lat_hi = 1, tail_lo = 0, tail_hi = 0;
  bool cls_on = false;  // one ID class, (id & cls_mask) == cls_match, has its own latency
  uint32_t cls_mask = 0, cls_match = 0, cls_lo = 1, cls_hi = 1;
  double tail_p = 0;
  bool reorder = false;
  bool exclusive = true;  // false: a slave without a monitor (OKAY; exclusive writes performed as plain ones)
  Stall st[3];  // AR, AW, W
  bool ready[3] = {false, false, false};
  std::vector<Range> ranges;
  std::deque<AxsAcc> rq, bq;
  bool rpres = false, bpres = false;
  AxsAcc rcur{}, bcur{};
  struct AwReq { uint32_t id; uint64_t addr, cyc; bool lock; };
  struct WBeat { uint64_t data; uint32_t strb; uint64_t cyc; };
  std::deque<AwReq> awq;
  std::deque<WBeat> wq;
  // memory
  std::unordered_map<uint64_t, uint8_t*> pages;
  std::unordered_map<uint64_t, std::unique_ptr<uint8_t[]>> own;
  std::unordered_map<uint32_t, uint64_t> resv;  // ID -> reserved granule (internal monitor or mirror)
  // callbacks
  axs_acc_cb on_accept = nullptr, on_done = nullptr;
  axs_page_cb on_page = nullptr;
  axs_excl_cb on_excl = nullptr;
  axs_err_cb on_err = nullptr;
  // logs and counters
  bool log_on = false;
  std::vector<AxsAcc> log;
  std::vector<std::pair<uint64_t, uint64_t>> done_log;  // (seq, done cycle)
  std::vector<std::string> perr;
  uint64_t reads = 0, writes = 0;

  uint32_t draw(uint32_t lo, uint32_t hi) {
    if (hi <= lo) return lo;
    return lo + static_cast<uint32_t>(rng() % (uint64_t(hi - lo) + 1));
  }
  double unit() { return (rng() >> 11) * (1.0 / 9007199254740992.0); }

  void redraw(int ch) {
    Stall& s = st[ch];
    s.started = false;
    s.left = (s.p > 0 && unit() < s.p) ? draw(s.lo, s.hi) : 0;
  }

  uint8_t* page(uint64_t pfn, bool create) {
    auto it = pages.find(pfn);
    if (it != pages.end()) return it->second;
    if (!create) return nullptr;
    if (on_page) {
      on_page(pfn);
      it = pages.find(pfn);
      if (it != pages.end()) return it->second;
    }
    auto& p = own[pfn];
    p.reset(new uint8_t[kPage]);
    std::memset(p.get(), 0, kPage);
    pages[pfn] = p.get();
    return p.get();
  }
  uint64_t read64(uint64_t pa) {
    const uint8_t* p = page(pa / kPage, false);
    if (!p) return 0;
    uint64_t v;
    std::memcpy(&v, p + pa % kPage, 8);
    return v;
  }
  void write_mem(uint64_t pa, uint64_t v, uint32_t strb) {
    uint8_t* p = page(pa / kPage, true) + pa % kPage;
    for (int i = 0; i < 8; i++)
      if (strb >> i & 1) p[i] = static_cast<uint8_t>(v >> (8 * i));
  }
  void unreserve(uint64_t granule) {
    for (auto it = resv.begin(); it != resv.end();) it = it->second == granule ? resv.erase(it) : std::next(it);
  }
  bool reserved(uint64_t granule) const {
    for (const auto& kv : resv)
      if (kv.second == granule) return true;
    return false;
  }
  void plain_write(uint32_t id, uint64_t pa, uint64_t v, uint32_t strb) {
    const uint64_t g = pa >> 3;
    if (reserved(g)) {
      unreserve(g);
      if (on_excl) {  // the host's monitor must see the write too
        on_excl(2, id, pa, &v, strb);
        return;
      }
    }
    write_mem(pa, v, strb);
  }
  uint64_t read_excl(uint32_t id, uint64_t pa) {
    resv[id] = pa >> 3;
    if (on_excl) {
      uint64_t v = 0;
      on_excl(0, id, pa, &v, 0xFF);
      return v;
    }
    return read64(pa);
  }
  bool write_excl(uint32_t id, uint64_t pa, uint64_t v, uint32_t strb) {
    auto it = resv.find(id);
    const bool mine = it != resv.end() && it->second == (pa >> 3);
    if (it != resv.end()) resv.erase(it);
    if (on_excl) {
      const bool ok = on_excl(1, id, pa, &v, strb) != 0;
      if (ok) unreserve(pa >> 3);
      return ok;
    }
    if (mine) {
      unreserve(pa >> 3);
      write_mem(pa, v, strb);
    }
    return mine;
  }

  void perror(const char* fmt, uint64_t a, uint64_t b = 0) {
    if (perr.size() >= 64) return;
    char buf[160];
    std::snprintf(buf, sizeof buf, fmt, static_cast<unsigned long long>(a), static_cast<unsigned long long>(b));
    perr.emplace_back(buf);
  }

  const Range* match(bool write, uint64_t addr, uint32_t id) {
    for (auto& r : ranges) {
      if (!r.live || r.count == 0) continue;
      if (write ? !r.writes : !r.reads) continue;
      if ((id & r.id_mask) != r.id_match) continue;
      if (addr < r.lo || addr >= r.hi) continue;
      r.hits++;
      if (r.count > 0) r.count--;
      return &r;
    }
    return nullptr;
  }

  uint32_t latency(uint32_t id) {
    uint32_t lat = cls_on && (id & cls_mask) == cls_match ? draw(cls_lo, cls_hi) : draw(lat_lo, lat_hi);
    if (tail_p > 0 && unit() < tail_p) {
      const uint32_t t = draw(tail_lo, tail_hi);
      if (t > lat) lat = t;
    }
    return lat < 1 ? 1 : lat;
  }

  // A new access accepted at edge e: error ranges, latency, memory, callbacks, queue.
  void accept(bool write, uint32_t id, uint64_t addr, uint64_t data, uint32_t strb, bool lock, uint64_t e) {
    AxsAcc a{};
    a.seq = ++seq;
    a.write = write;
    a.id = id;
    a.addr = addr;
    a.data = data;
    a.strb = static_cast<uint8_t>(strb);
    a.lock = lock;
    a.accept = a.perform = e;
    a.due = e + latency(id);
    uint64_t flip = 0;
    const Range* r = match(write, addr, id);
    if (r) {
      if (r->kind == K_SLVERR || r->kind == K_DECERR) a.resp = static_cast<uint8_t>(r->kind);
      else if (r->kind == K_DROP) a.drop = 1;
      else if (r->kind == K_FLIP) flip = uint64_t(1) << (r->cycles & 63);
      else a.due = e + (r->cycles < 1 ? 1 : r->cycles);
    }
    if (on_err && a.resp < SLVERR) {
      const int k = on_err(write, id, addr);
      if (k == SLVERR || k == DECERR) a.resp = static_cast<uint8_t>(k);
    }
    const uint64_t pa = addr & ~uint64_t(7);
    if (write) {
      writes++;
      if (a.resp < SLVERR) {
        if (lock && exclusive) {
          if (strb != 0xFF) perror("exclusive write with WSTRB %#llx at %#llx", strb, addr);
          a.resp = write_excl(id, pa, data, strb) ? EXOKAY : OKAY;
        } else {
          plain_write(id, pa, data, strb);
        }
      }
    } else {
      reads++;
      if (a.resp >= SLVERR) a.data = 0;
      else if (lock && exclusive) {
        a.data = read_excl(id, pa);
        a.resp = EXOKAY;
      } else {
        a.data = read64(pa);
      }
    }
    if (on_accept) on_accept(&a);  // may hold it, move its due cycle, or drop it
    if (a.due <= e) a.due = e + 1;
    if (log_on) log.push_back(a);
    (write ? bq : rq).push_back(a);
    if (flip && !write) rq.back().data ^= flip;  // the beat only: the log keeps what memory gave
  }

  // Index in q of the beat to present in cycle e (handshake at e+1), or -1.
  long pick(const std::deque<AxsAcc>& q, uint64_t e) const {
    if (q.empty()) return -1;
    if (!reorder) {
      const AxsAcc& a = q.front();
      return (a.held || a.drop || a.due > e + 1) ? -1 : 0;
    }
    long best = -1;
    std::unordered_set<uint32_t> seen;
    for (size_t i = 0; i < q.size(); i++) {
      const AxsAcc& a = q[i];
      if (!seen.insert(a.id).second) continue;
      if (a.held || a.drop || a.due > e + 1) continue;
      if (best < 0 || a.due < q[best].due) best = static_cast<long>(i);
    }
    return best;
  }

  void complete(AxsAcc& a, uint64_t e) {
    a.done = e;
    if (log_on) done_log.emplace_back(a.seq, e);
    if (on_done) on_done(&a);
  }
};

Slave g;

inline bool fire_ready(int ch) { return g.ready[ch]; }

}  // namespace

extern "C" {

// ------------------------------------------------------------------ DPI (tb/csrc/axi_slave_dpi.sv)

void axs_tick(unsigned char arvalid, uint32_t arid, uint64_t araddr, uint32_t arlen, uint32_t arsize,
              unsigned char arlock, unsigned char awvalid, uint32_t awid, uint64_t awaddr, uint32_t awlen,
              uint32_t awsize, unsigned char awlock, unsigned char wvalid, uint64_t wdata, uint32_t wstrb,
              unsigned char wlast, unsigned char rready, unsigned char bready, unsigned char* arready,
              unsigned char* awready, unsigned char* wready, unsigned char* rvalid, uint32_t* rid,
              uint64_t* rdata, uint32_t* rresp, unsigned char* bvalid, uint32_t* bid, uint32_t* bresp) {
  const uint64_t e = ++g.cyc;
  if (!g.active) {
    *arready = *awready = *wready = *rvalid = *bvalid = 0;
    *rid = *bid = *rresp = *bresp = 0;
    *rdata = 0;
    return;
  }
  // responses handshaken at this edge
  if (g.rpres && rready) {
    g.rpres = false;
    for (auto it = g.rq.begin(); it != g.rq.end(); ++it)
      if (it->seq == g.rcur.seq) {
        AxsAcc a = *it;
        g.rq.erase(it);
        g.complete(a, e);
        break;
      }
  }
  if (g.bpres && bready) {
    g.bpres = false;
    for (auto it = g.bq.begin(); it != g.bq.end(); ++it)
      if (it->seq == g.bcur.seq) {
        AxsAcc a = *it;
        g.bq.erase(it);
        g.complete(a, e);
        break;
      }
  }
  // requests handshaken at this edge
  const bool valid[3] = {arvalid != 0, awvalid != 0, wvalid != 0};
  bool fire[3];
  for (int ch = 0; ch < 3; ch++) {
    fire[ch] = valid[ch] && fire_ready(ch);
    Stall& s = g.st[ch];
    if (fire[ch]) g.redraw(ch);
    else if (valid[ch] && s.left > 0) {
      s.started = true;
      s.left--;
    }
  }
  if (fire[0]) {
    if (arlen != 0 || arsize != 3) g.perror("AR addr %#llx: len/size %#llx (single 8-byte beats only)", araddr,
                                            (uint64_t(arlen) << 8) | arsize);
    if (araddr & 7) g.perror("AR addr %#llx not 8-byte aligned", araddr);
    g.accept(false, arid, araddr, 0, 0xFF, arlock, e);
  }
  if (fire[1]) {
    if (awlen != 0 || awsize != 3) g.perror("AW addr %#llx: len/size %#llx (single 8-byte beats only)", awaddr,
                                            (uint64_t(awlen) << 8) | awsize);
    if (awaddr & 7) g.perror("AW addr %#llx not 8-byte aligned", awaddr);
    g.awq.push_back({awid, awaddr, e, awlock != 0});
  }
  if (fire[2]) {
    if (!wlast) g.perror("W beat without WLAST on a single-beat burst (data %#llx)", wdata);
    g.wq.push_back({wdata, wstrb, e});
  }
  while (!g.awq.empty() && !g.wq.empty()) {
    const auto aw = g.awq.front();
    const auto w = g.wq.front();
    g.awq.pop_front();
    g.wq.pop_front();
    g.accept(true, aw.id, aw.addr, w.data, w.strb, aw.lock, aw.cyc > w.cyc ? aw.cyc : w.cyc);
  }
  // outputs for cycle e
  for (int ch = 0; ch < 3; ch++) g.ready[ch] = g.st[ch].left == 0;
  *arready = g.ready[0];
  *awready = g.ready[1];
  *wready = g.ready[2];
  if (!g.rpres) {
    const long i = g.pick(g.rq, e);
    if (i >= 0) {
      g.rpres = true;
      g.rcur = g.rq[i];
    }
  }
  if (!g.bpres) {
    const long i = g.pick(g.bq, e);
    if (i >= 0) {
      g.bpres = true;
      g.bcur = g.bq[i];
    }
  }
  *rvalid = g.rpres;
  *rid = g.rpres ? g.rcur.id : 0;
  *rdata = g.rpres ? g.rcur.data : 0;
  *rresp = g.rpres ? g.rcur.resp : 0;
  *bvalid = g.bpres;
  *bid = g.bpres ? g.bcur.id : 0;
  *bresp = g.bpres ? g.bcur.resp : 0;
}

// ------------------------------------------------------------------ control (ctypes, tb/axi_mem.py)

// Forget every access, queue, range, reservation, log and page; set the cycle of the
// last edge; the slave answers (READY up) from the next edge when `active`.
void axs_reset(uint64_t cycle, uint64_t seed, int active) {
  g.active = active != 0;
  g.cyc = cycle;
  g.seq = 0;
  g.rng.seed(seed);
  g.ranges.clear();
  g.rq.clear();
  g.bq.clear();
  g.awq.clear();
  g.wq.clear();
  g.rpres = g.bpres = false;
  g.pages.clear();
  g.own.clear();
  g.resv.clear();
  g.log.clear();
  g.done_log.clear();
  g.perr.clear();
  g.reads = g.writes = 0;
  g.on_accept = g.on_done = nullptr;
  g.on_page = nullptr;
  g.on_excl = nullptr;
  g.on_err = nullptr;
  g.cls_on = false;
  g.exclusive = true;
  for (int ch = 0; ch < 3; ch++) {
    g.st[ch] = Stall{};
    g.ready[ch] = false;
  }
}

// Start answering: `cycle` is the index of the last rising edge (the caller's cycle numbering).
void axs_start(uint64_t cycle) {
  g.cyc = cycle;
  g.active = true;
  for (int ch = 0; ch < 3; ch++) g.redraw(ch);
}
void axs_set_active(int active) { g.active = active != 0; }
void axs_set_seed(uint64_t seed) { g.rng.seed(seed); }
void axs_set_exclusive(int on) { g.exclusive = on != 0; }
uint64_t axs_cycle() { return g.cyc; }

void axs_set_timing(uint32_t lat_lo, uint32_t lat_hi, double tail_p, uint32_t tail_lo, uint32_t tail_hi,
                    int reorder) {
  g.lat_lo = lat_lo < 1 ? 1 : lat_lo;
  g.lat_hi = lat_hi < g.lat_lo ? g.lat_lo : lat_hi;
  g.tail_p = tail_p;
  g.tail_lo = tail_lo;
  g.tail_hi = tail_hi;
  g.reorder = reorder != 0;
}

// Latency [lo, hi] of the IDs with (id & id_mask) == id_match instead of the common one
// (lo = 0: none); the tail applies to them too.
void axs_set_id_latency(uint32_t id_mask, uint32_t id_match, uint32_t lo, uint32_t hi) {
  g.cls_on = lo != 0;
  g.cls_mask = id_mask;
  g.cls_match = id_match & id_mask;
  g.cls_lo = lo < 1 ? 1 : lo;
  g.cls_hi = hi < g.cls_lo ? g.cls_lo : hi;
}

// Back-pressure of channel ch (0 AR, 1 AW, 2 W); a stall not yet met by VALID is redrawn.
void axs_set_stall(int ch, double p, uint32_t lo, uint32_t hi) {
  if (ch < 0 || ch > 2) return;
  Stall& s = g.st[ch];
  s.p = p;
  s.lo = lo;
  s.hi = hi < lo ? lo : hi;
  if (!s.started) g.redraw(ch);
}

// An error / no-answer / delay range; returns its index (for axs_range_hits / axs_range_remove).
int axs_add_range(uint64_t lo, uint64_t hi, int kind, uint32_t cycles, int reads, int writes, uint32_t id_mask,
                  uint32_t id_match, int64_t count) {
  g.ranges.push_back(Range{lo, hi, kind, cycles, reads != 0, writes != 0, id_mask, id_match, count, 0, true});
  return static_cast<int>(g.ranges.size()) - 1;
}
uint64_t axs_range_hits(int i) { return i >= 0 && size_t(i) < g.ranges.size() ? g.ranges[i].hits : 0; }
int64_t axs_range_count(int i) { return i >= 0 && size_t(i) < g.ranges.size() ? g.ranges[i].count : 0; }
void axs_range_remove(int i) {
  if (i >= 0 && size_t(i) < g.ranges.size()) g.ranges[i].live = false;
}

// Release a held access (answered once due); returns 1 if it was found.
int axs_release(uint64_t seq) {
  for (auto* q : {&g.rq, &g.bq})
    for (auto& a : *q)
      if (a.seq == seq) {
        a.held = 0;
        return 1;
      }
  return 0;
}

size_t axs_inflight() { return g.rq.size() + g.bq.size(); }

void axs_map_page(uint64_t pfn, uint8_t* p) {
  if (p) {
    g.pages[pfn] = p;
    g.own.erase(pfn);
  } else {
    g.pages.erase(pfn);
  }
}
void axs_set_callbacks(axs_acc_cb accept, axs_acc_cb done, axs_page_cb page, axs_excl_cb excl) {
  g.on_accept = accept;
  g.on_done = done;
  g.on_page = page;
  g.on_excl = excl;
}

void axs_set_error_cb(axs_err_cb cb) { g.on_err = cb; }

void axs_set_log(int on) { g.log_on = on != 0; }
// Copy up to n accepted accesses (acceptance order) into out and drop them; returns how many.
size_t axs_drain(AxsAcc* out, size_t n) {
  const size_t k = g.log.size() < n ? g.log.size() : n;
  if (k) {
    std::memcpy(out, g.log.data(), k * sizeof(AxsAcc));
    g.log.erase(g.log.begin(), g.log.begin() + static_cast<long>(k));
  }
  return k;
}
size_t axs_drain_done(uint64_t* seqs, uint64_t* cycles, size_t n) {
  const size_t k = g.done_log.size() < n ? g.done_log.size() : n;
  for (size_t i = 0; i < k; i++) {
    seqs[i] = g.done_log[i].first;
    cycles[i] = g.done_log[i].second;
  }
  g.done_log.erase(g.done_log.begin(), g.done_log.begin() + static_cast<long>(k));
  return k;
}

uint64_t axs_count(int write) { return write ? g.writes : g.reads; }
size_t axs_protocol_errors() { return g.perr.size(); }
const char* axs_protocol_error(size_t i) { return i < g.perr.size() ? g.perr[i].c_str() : ""; }

// Memory as the slave sees it (tests): the qword at pa.
uint64_t axs_peek(uint64_t pa) { return g.read64(pa & ~uint64_t(7)); }

}  // extern "C"
