// Lockstep harness (tb/lockstep.py): two ATS devices, the working tree's
// ats_dev_top (u_new) and a renamed copy of another revision (u_old), in one
// Verilator model (lockstep_top) with the same inputs every cycle. Every
// output of the old design must equal the new design's in every cycle; the
// first cycle that differs is reported (signal, cycle, both values) and the
// run fails.
//
// Stimulus is constrained-random over every input that matters: commands on
// every thread (mapped pages, random, misaligned, non-canonical VAs),
// invalidations (single page, ranges, whole space, PASID, global), PRG
// Responses (every code, late, missing, spurious), AXI responses (random
// ready and latency, out of order across IDs, SLVERR/DECERR, exclusive
// OKAY/EXOKAY with a reservation monitor and lost reservations), and the
// config inputs pri_en_i / atc_wp_fault_i. Memory holds seeded x86-64 page
// tables so walks succeed often; a host agent keeps changing PTEs.
//
// The AXI slave and the PRI host are one model driven by the NEW design's
// outputs; both designs get its answers (the comparison makes the old
// design's outputs equal to the ones the model saw).
//
// Plusargs: +seeds=A,B,.. +cycles=N +trace=FILE (with a --trace build).

#include "Vlockstep_top.h"
#include "verilated.h"
#if VM_TRACE
#include "verilated_fst_c.h"
#endif

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "ls_ports.h"  // generated: LS_OUTPUTS(X) over the compared outputs, LS_P_* parameters

static const uint64_t PA_MASK = (LS_P_PaWidth >= 64) ? ~0ull : ((1ull << LS_P_PaWidth) - 1);

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 0x1234567ull) { next(); }
  uint64_t next() {
    s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  }
  uint64_t below(uint64_t n) { return n ? next() % n : 0; }
  bool pct(unsigned p) { return below(1000) < p * 10; }
  bool permille(unsigned p) { return below(1000) < p; }
};

static uint64_t mix(uint64_t x) {
  x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
  return x;
}

// ----------------------------------------------------------------- memory + page tables

struct Mem {
  uint64_t salt = 0;
  std::unordered_map<uint64_t, uint64_t> words;
  std::set<uint64_t> table_pages;  // PA >> 12 of page-table pages (unset entries read 0)
  uint64_t next_table = 0x100000;  // table page allocator

  uint64_t read(uint64_t pa) const {
    pa &= PA_MASK & ~7ull;
    auto it = words.find(pa);
    if (it != words.end()) return it->second;
    if (table_pages.count(pa >> 12)) return 0;
    return mix(pa ^ salt);
  }
  void write(uint64_t pa, uint64_t v) { words[(pa & PA_MASK) & ~7ull] = v; }
  uint64_t alloc_table() {
    uint64_t pa = next_table;
    next_table += 0x1000;
    table_pages.insert(pa >> 12);
    return pa;
  }
};

static const uint64_t PTE_P = 1, PTE_RW = 2, PTE_US = 4, PTE_A = 0x20, PTE_D = 0x40, PTE_PS = 0x80;
static const uint64_t PASID_TBL = 0x80000;

struct Host {
  Mem mem;
  Rng* rng;
  std::vector<uint32_t> pasids;        // PASIDs with a present PASID-table entry
  std::vector<uint64_t> va_pool;       // VA pages (VA >> 12, 52 bits) the tables map
  std::vector<uint64_t> leaves;        // PA of leaf entries (host churn)
  std::map<uint32_t, uint64_t> pml4;   // PASID -> PML4 PA

  uint64_t flags(bool leaf) {
    uint64_t f = PTE_P;
    if (rng->pct(leaf ? 75 : 92)) f |= PTE_RW;
    if (rng->pct(96)) f |= PTE_US;
    if (rng->pct(50)) f |= PTE_A;
    if (leaf && rng->pct(50)) f |= PTE_D;
    if (rng->pct(2)) f |= 1ull << 51;  // reserved
    if (rng->pct(3)) f &= ~PTE_P;
    return f;
  }

  // Map `vpn` (VA[63:12]) for `pasid` with a leaf at level `leaf_lvl` (4: PTE, 3: 2M PDE, 2: 1G PDPTE).
  void map(uint32_t pasid, uint64_t vpn, int leaf_lvl, uint64_t leaf_flags) {
    auto it = pml4.find(pasid);
    if (it == pml4.end()) return;
    uint64_t table = it->second;
    for (int lvl = 1; lvl <= 4; lvl++) {
      unsigned idx = (vpn >> (9 * (4 - lvl))) & 511;
      uint64_t ea = table + idx * 8;
      uint64_t e = mem.read(ea);
      if (lvl == leaf_lvl) {
        uint64_t ppn = 0x40000 + rng->below(0x20000);
        if (lvl == 3) ppn &= ~0x1FFull;
        if (lvl == 2) ppn &= ~0x3FFFFull;
        uint64_t v = (ppn << 12) | leaf_flags | (lvl < 4 ? PTE_PS : 0);
        mem.write(ea, v);
        leaves.push_back(ea);
        return;
      }
      if (!(e & PTE_P) || (e & PTE_PS) || !mem.table_pages.count((e & PA_MASK) >> 12)) {
        uint64_t t = mem.alloc_table();
        e = t | flags(false);
        e |= PTE_P;
        e &= ~PTE_PS;
        mem.write(ea, e);
        leaves.push_back(ea);  // non-leaf entries churn too
      }
      table = (e & PA_MASK) & ~0xFFFull;
      table &= ~(1ull << 51);
    }
  }

  void init(uint64_t seed) {
    mem = Mem();
    mem.salt = mix(seed);
    pasids.clear(); va_pool.clear(); leaves.clear(); pml4.clear();
    mem.table_pages.insert(PASID_TBL >> 12);
    for (uint32_t p = 0; p < 8; p++) {
      if (p == 5) continue;  // PASID entry not present
      uint64_t t = mem.alloc_table();
      pml4[p] = t;
      mem.write(PASID_TBL + p * 8, t | 1);
      pasids.push_back(p);
    }
    // a few regions, each several pages sharing their upper levels
    for (int r = 0; r < 6; r++) {
      uint64_t base = rng->below(1ull << 36);
      if (rng->pct(30)) base |= 1ull << 35;            // upper half
      base = (base & ((1ull << 36) - 1));
      if (base >> 35) base |= ((1ull << 52) - 1) & ~((1ull << 36) - 1);  // sign-extend to VA[63:12]
      int kind = rng->below(4);                         // 0,1: 4K pages, 2: 2M page, 3: 1G page
      unsigned n = kind >= 2 ? 2 : 3 + rng->below(6);
      for (unsigned i = 0; i < n; i++) {
        uint64_t vpn = base + (kind == 2 ? (i << 9) : kind == 3 ? (i << 18) : i);
        vpn &= (1ull << 52) - 1;
        va_pool.push_back(vpn);
        for (uint32_t p : pasids) {
          if (rng->pct(85)) map(p, vpn, kind == 2 ? 3 : kind == 3 ? 2 : 4, flags(true));
        }
      }
    }
  }

  // host churn: change a random entry (breaks reservations on it)
  uint64_t churn() {
    if (leaves.empty()) return ~0ull;
    uint64_t ea = leaves[rng->below(leaves.size())];
    uint64_t e = mem.read(ea);
    static const uint64_t bits[] = {PTE_P, PTE_RW, PTE_A, PTE_D, PTE_A, PTE_D, PTE_RW, PTE_US};
    e ^= bits[rng->below(8)];
    if (rng->pct(50)) e |= PTE_US;
    if (rng->pct(50)) e |= PTE_P;
    mem.write(ea, e);
    return ea;
  }

  // a Page Request answered Success: make the page present and writable
  void fix(uint32_t pasid, uint64_t vpn) { map(pasid, vpn, 4, PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D); }
};

// ----------------------------------------------------------------- AXI slave

struct Rd { uint32_t id; uint64_t addr; bool lock; uint64_t at; };
struct Wr { uint32_t id; uint64_t addr; bool lock; };
struct Bq { uint32_t id; uint32_t resp; uint64_t at; };
struct Rq { uint32_t id; uint64_t data; uint32_t resp; uint64_t at; };

struct Stats {
  uint64_t cmds = 0, rsps = 0, hits = 0, faults = 0, causes[16] = {0}, invs = 0, invcs = 0, prs = 0, prgrs = 0,
           ars = 0, ar_lock = 0, aws = 0, aw_lock = 0, exok_w = 0, resets = 0;
};

struct Sim {
  Vlockstep_top* top;
  Rng rng;
  Host host;
  Stats st;
  uint64_t cycle = 0;
  // per-seed modes
  unsigned excl_mode = 0;   // 0 normal monitor, 1 flaky (random lost reservations), 2 no exclusive support
  unsigned lat_max = 12;
  unsigned busy = 60;       // ready percentage
  // AXI state
  std::vector<Rd> rd_pend;
  std::vector<Rq> r_q;      // responses computed, waiting for their time
  bool r_busy = false;
  Rq r_cur{};
  std::deque<Wr> aw_q;
  std::deque<uint64_t> w_q;
  std::vector<Bq> b_q;
  bool b_busy = false;
  Bq b_cur{};
  std::map<uint32_t, uint64_t> resv;  // ID -> reserved address
  // PRI host
  struct Prg { uint32_t prgi; uint32_t code; uint64_t at; uint32_t pasid; uint64_t vpn; };
  std::vector<Prg> prg_q;
  // held command / invalidation
  bool cmd_hold = false, inv_hold = false;
  std::map<unsigned, uint64_t> last_va;
  std::map<unsigned, uint32_t> last_pasid;

  Sim(Vlockstep_top* t, uint64_t seed) : top(t), rng(seed) { host.rng = &rng; }

  void reset_agents() {
    rd_pend.clear(); r_q.clear(); r_busy = false; aw_q.clear(); w_q.clear(); b_q.clear(); b_busy = false;
    resv.clear(); prg_q.clear(); cmd_hold = inv_hold = false;
  }

  uint64_t pick_vpn() {
    if (!host.va_pool.empty() && rng.pct(92)) {
      uint64_t v = host.va_pool[rng.below(host.va_pool.size())];
      if (rng.pct(20)) v += rng.below(4);  // next pages (inside a large page or unmapped)
      return v & ((1ull << 52) - 1);
    }
    uint64_t v = rng.below(1ull << 36);
    if (v >> 35) v |= ((1ull << 52) - 1) & ~((1ull << 36) - 1);
    return v;
  }

  uint32_t pick_pasid() {
    if (rng.pct(90)) return host.pasids[rng.below(host.pasids.size())] ;
    return rng.pct(50) ? rng.below(8) : rng.below(1u << 20);
  }

  // inputs for this cycle (clock low), from the agents' state
  void drive() {
    Vlockstep_top* t = top;
    // config: mostly static per seed, rarely flipped
    if (rng.permille(1) && rng.pct(10)) t->pri_en_i ^= 1;
    if (rng.permille(1) && rng.pct(10)) t->atc_wp_fault_i ^= 1;
    // command
    if (!cmd_hold || !rng.pct(90)) {
      cmd_hold = rng.pct(60);
      t->cmd_valid_i = cmd_hold;
      unsigned th = rng.below(LS_P_NumThreads);
      t->cmd_thread_i = th;
      t->cmd_write_i = rng.pct(40);
      uint64_t va;
      if (last_va.count(th) && rng.pct(50)) {  // locality: the thread's last page again
        t->cmd_pasid_i = last_pasid[th];
        va = (last_va[th] & ~0xFFFull) | (rng.below(512) << 3);
      } else {
        t->cmd_pasid_i = pick_pasid();
        va = (pick_vpn() << 12) | (rng.below(512) << 3);
        last_va[th] = va;
        last_pasid[th] = t->cmd_pasid_i;
      }
      unsigned k = rng.below(100);
      if (k < 3) va |= 1 + rng.below(7);                 // misaligned
      else if (k < 6) va ^= 1ull << (48 + rng.below(16));  // non-canonical
      t->cmd_va_i = va;
      t->cmd_wdata_i = rng.next();
    }
    t->rsp_ready_i = rng.pct(80);
    // invalidation
    if (!inv_hold || !rng.pct(80)) {
      inv_hold = rng.permille(15);
      t->inv_valid_i = inv_hold;
      t->inv_itag_i = rng.below(32);
      t->inv_pasid_valid_i = rng.pct(90);
      t->inv_pasid_i = pick_pasid();
      t->inv_global_i = rng.pct(3);
      uint64_t a = pick_vpn();
      bool s = rng.pct(35);
      if (s) {
        unsigned k = rng.below(100) < 2 ? 52 : rng.below(31);
        if (k >= 52) a = rng.pct(50) ? (1ull << 51) - 1 : (1ull << 52) - 1;   // whole space
        else a = (a & ~((1ull << (k + 1)) - 1)) | ((1ull << k) - 1);      // bit k clear, below set
      }
      t->inv_addr_i = a & ((1ull << 52) - 1);
      t->inv_s_i = s;
    }
    t->invc_ready_i = rng.pct(75);
    // PRI
    t->pr_ready_i = rng.pct(70);
    t->prgr_valid_i = 0;
    for (size_t i = 0; i < prg_q.size(); i++) {
      if (prg_q[i].at <= cycle) {
        t->prgr_valid_i = 1;
        t->prgr_prgi_i = prg_q[i].prgi;
        t->prgr_code_i = prg_q[i].code;
        if (prg_q[i].code == 0 && rng.pct(60)) host.fix(prg_q[i].pasid, prg_q[i].vpn);
        prg_q.erase(prg_q.begin() + i);
        break;
      }
    }
    if (!t->prgr_valid_i && rng.permille(3)) {  // spurious or stale response
      t->prgr_valid_i = 1;
      t->prgr_prgi_i = rng.below(16);
      t->prgr_code_i = rng.below(16);
    }
    // AXI: ready signals
    t->m_axi_arready = rng.pct(busy);
    t->m_axi_awready = rng.pct(busy);
    t->m_axi_wready = rng.pct(busy);
    // R channel: a response held until taken
    if (!r_busy) {
      // oldest ready response of a random ID (order kept per ID)
      std::vector<size_t> cand;
      std::set<uint32_t> seen;
      for (size_t i = 0; i < r_q.size(); i++) {
        if (seen.count(r_q[i].id)) continue;
        seen.insert(r_q[i].id);
        if (r_q[i].at <= cycle) cand.push_back(i);
      }
      if (!cand.empty() && rng.pct(85)) {
        size_t i = cand[rng.below(cand.size())];
        r_cur = r_q[i];
        r_q.erase(r_q.begin() + i);
        r_busy = true;
      } else if (rng.permille(2)) {  // response for an ID with nothing outstanding
        r_cur = Rq{(uint32_t)rng.below(16), rng.next(), (uint32_t)rng.below(4), cycle};
        bool used = false;
        for (auto& q : r_q) used |= q.id == r_cur.id;
        for (auto& q : rd_pend) used |= q.id == r_cur.id;
        r_busy = !used;
      }
    }
    t->m_axi_rvalid = r_busy;
    t->m_axi_rid = r_busy ? r_cur.id : rng.below(16);
    t->m_axi_rdata = r_busy ? r_cur.data : rng.next();
    t->m_axi_rresp = r_busy ? r_cur.resp : rng.below(4);
    t->m_axi_rlast = r_busy ? 1 : rng.below(2);
    if (!b_busy) {
      std::vector<size_t> cand;
      std::set<uint32_t> seen;
      for (size_t i = 0; i < b_q.size(); i++) {
        if (seen.count(b_q[i].id)) continue;
        seen.insert(b_q[i].id);
        if (b_q[i].at <= cycle) cand.push_back(i);
      }
      if (!cand.empty() && rng.pct(85)) {
        size_t i = cand[rng.below(cand.size())];
        b_cur = b_q[i];
        b_q.erase(b_q.begin() + i);
        b_busy = true;
      }
    }
    t->m_axi_bvalid = b_busy;
    t->m_axi_bid = b_busy ? b_cur.id : rng.below(16);
    t->m_axi_bresp = b_busy ? b_cur.resp : rng.below(4);
  }

  uint32_t err_resp() { return rng.pct(50) ? 2 : 3; }
  uint64_t lat() { return 1 + rng.below(rng.pct(5) ? 60 : lat_max); }

  void break_resv(uint64_t addr) {
    for (auto it = resv.begin(); it != resv.end();) {
      if (it->second == addr) it = resv.erase(it); else ++it;
    }
  }

  // handshakes seen at the clock edge, from the NEW design's outputs
  void observe() {
    Vlockstep_top* t = top;
    if (t->cmd_valid_i && t->new_cmd_ready_o) {
      st.cmds++;
      cmd_hold = false;  // the next command is drawn afresh
    }
    if (t->new_rsp_valid_o && t->rsp_ready_i) {
      st.rsps++;
      st.hits += t->new_rsp_atc_hit_o;
      st.causes[t->new_rsp_cause_o & 15]++;
    }
    if (t->inv_valid_i && t->new_inv_ready_o) {
      st.invs++;
      inv_hold = false;
    }
    if (t->new_invc_valid_o && t->invc_ready_i) st.invcs++;
    if (t->prgr_valid_i) st.prgrs++;
    if (t->new_pr_valid_o && t->pr_ready_i) {
      st.prs++;
      if (rng.pct(92)) {
        unsigned k = rng.below(100);
        uint32_t code = k < 72 ? 0 : k < 82 ? 1 : k < 92 ? 15 : 2 + rng.below(13);
        uint64_t delay = 1 + rng.below(rng.pct(10) ? 400 : 40);
        prg_q.push_back({(uint32_t)t->new_pr_prgi_o, code, cycle + delay, (uint32_t)t->new_pr_pasid_o,
                         (uint64_t)t->new_pr_addr_o});
      }
    }
    // AR
    if (t->new_m_axi_arvalid && t->m_axi_arready) {
      st.ars++;
      st.ar_lock += t->new_m_axi_arlock;
      Rd r{(uint32_t)t->new_m_axi_arid, (uint64_t)t->new_m_axi_araddr, (bool)t->new_m_axi_arlock, cycle + lat()};
      uint32_t resp = 0;
      uint64_t data = host.mem.read(r.addr);
      if (rng.pct(2)) {
        resp = err_resp();
      } else if (r.lock) {
        bool mon = excl_mode == 0 || (excl_mode == 1 && rng.pct(85));
        if (mon) {
          resp = 1;
          resv[r.id] = r.addr & ~7ull;
        }
      }
      r_q.push_back({r.id, data, resp, r.at});
    }
    if (r_busy && t->new_m_axi_rready) r_busy = false;
    // AW / W
    if (t->new_m_axi_awvalid && t->m_axi_awready) {
      st.aws++;
      st.aw_lock += t->new_m_axi_awlock;
      aw_q.push_back({(uint32_t)t->new_m_axi_awid, (uint64_t)t->new_m_axi_awaddr, (bool)t->new_m_axi_awlock});
    }
    if (t->new_m_axi_wvalid && t->m_axi_wready) w_q.push_back((uint64_t)t->new_m_axi_wdata);
    while (!aw_q.empty() && !w_q.empty()) {
      Wr w = aw_q.front(); aw_q.pop_front();
      uint64_t d = w_q.front(); w_q.pop_front();
      uint64_t a = w.addr & ~7ull;
      uint32_t resp = 0;
      if (rng.pct(2)) {
        resp = err_resp();
      } else if (w.lock) {
        auto it = resv.find(w.id);
        if (it != resv.end() && it->second == a) {
          resp = 1;
          st.exok_w++;
          host.mem.write(a, d);
          break_resv(a);
        }
        resv.erase(w.id);
      } else {
        host.mem.write(a, d);
        break_resv(a);
      }
      b_q.push_back({w.id, resp, cycle + lat()});
    }
    if (b_busy && t->new_m_axi_bready) b_busy = false;
    // the host changes entries; reservations get lost
    if (rng.permille(4)) break_resv(host.churn());
    if (excl_mode == 1 && rng.permille(20) && !resv.empty()) resv.erase(resv.begin());
  }
};

// ----------------------------------------------------------------- compare

template <typename T>
static uint64_t u64(const T& v) { static_assert(sizeof(T) <= 8, "port wider than 64 bits"); return (uint64_t)v; }

static int compare(Vlockstep_top* t, uint64_t cycle, uint64_t seed) {
  int bad = 0;
#define LS_CMP(name)                                                                                   \
  if (u64(t->new_##name) != u64(t->old_##name)) {                                                      \
    if (!bad) std::printf("lockstep: MISMATCH seed %" PRIu64 " cycle %" PRIu64 "\n", seed, cycle);     \
    std::printf("lockstep:   %s old=0x%" PRIx64 " new=0x%" PRIx64 "\n", #name, u64(t->old_##name),       \
                u64(t->new_##name));                                                                   \
    bad++;                                                                                             \
  }
  LS_OUTPUTS(LS_CMP)
#undef LS_CMP
  return bad;
}

static std::vector<uint64_t> parse_list(const char* s) {
  std::vector<uint64_t> out;
  while (s && *s) {
    out.push_back(std::strtoull(s, nullptr, 0));
    const char* c = std::strchr(s, ',');
    s = c ? c + 1 : nullptr;
  }
  return out;
}

int main(int argc, char** argv) {
  auto ctx = std::make_unique<VerilatedContext>();
  ctx->commandArgs(argc, argv);
  const char* a = ctx->commandArgsPlusMatch("seeds=");
  std::vector<uint64_t> seeds = parse_list(*a ? a + 7 : "1");
  a = ctx->commandArgsPlusMatch("cycles=");
  uint64_t cycles = *a ? std::strtoull(a + 8, nullptr, 0) : 20000;
  auto top = std::make_unique<Vlockstep_top>(ctx.get());
#if VM_TRACE
  std::unique_ptr<VerilatedFstC> tfp;
  a = ctx->commandArgsPlusMatch("trace=");
  if (*a) {
    ctx->traceEverOn(true);
    tfp = std::make_unique<VerilatedFstC>();
    top->trace(tfp.get(), 99);
    tfp->open(a + 7);
  }
#endif
  uint64_t total = 0;
  uint64_t time = 0;
  for (uint64_t seed : seeds) {
    Sim sim(top.get(), seed);
    sim.host.init(seed);
    sim.excl_mode = sim.rng.pct(75) ? 0 : sim.rng.pct(70) ? 1 : 2;
    sim.lat_max = 2 + sim.rng.below(14);
    sim.busy = 40 + sim.rng.below(60);
    top->pasid_tbl_base_i = PASID_TBL;
    top->pri_en_i = sim.rng.pct(50);
    top->atc_wp_fault_i = sim.rng.pct(30);
    uint64_t rst_until = 4;
    for (sim.cycle = 0; sim.cycle < cycles; sim.cycle++) {
      if (sim.cycle > 100 && sim.rng.below(cycles * 2) == 0) {  // a reset in the middle of traffic
        rst_until = sim.cycle + 1 + sim.rng.below(3);
        sim.reset_agents();
        sim.st.resets++;
      }
      top->rst_ni = sim.cycle >= rst_until;
      top->clk_i = 0;
      sim.drive();
      if (!top->rst_ni) {
        top->cmd_valid_i = 0;
        top->inv_valid_i = 0;
        top->prgr_valid_i = 0;
        top->m_axi_rvalid = 0;
        top->m_axi_bvalid = 0;
        sim.r_busy = sim.b_busy = false;
        sim.cmd_hold = sim.inv_hold = false;
      }
      top->eval();
#if VM_TRACE
      if (tfp) tfp->dump(time);
#endif
      time++;
      if (compare(top.get(), sim.cycle, seed)) {
#if VM_TRACE
        if (tfp) tfp->close();
#endif
        std::printf("lockstep: FAIL after %" PRIu64 " cycle(s) in total\n", total + sim.cycle);
        return 1;
      }
      if (top->rst_ni) sim.observe();
      top->clk_i = 1;
      top->eval();
#if VM_TRACE
      if (tfp) tfp->dump(time);
#endif
      time++;
    }
    total += cycles;
    const Stats& s = sim.st;
    std::printf("lockstep: seed %" PRIu64 " ok: %" PRIu64 " cycles, pri_en %d, wp_fault %d, excl_mode %u; "
                "cmds %" PRIu64 " rsps %" PRIu64 " hits %" PRIu64 " ok %" PRIu64 " faults %" PRIu64
                " invs %" PRIu64 " invcs %" PRIu64 " prs %" PRIu64 " prgrs %" PRIu64 " ar %" PRIu64
                " ar_excl %" PRIu64 " aw %" PRIu64 " aw_excl %" PRIu64 " exokay_w %" PRIu64 " resets %" PRIu64
                "\n", seed, cycles, (int)top->pri_en_i, (int)top->atc_wp_fault_i, sim.excl_mode, s.cmds, s.rsps,
                s.hits, s.causes[0], s.rsps - s.causes[0], s.invs, s.invcs, s.prs, s.prgrs, s.ars, s.ar_lock,
                s.aws, s.aw_lock, s.exok_w, s.resets);
    std::printf("lockstep:   causes");
    for (int c = 0; c < 16; c++) if (s.causes[c]) std::printf(" %d:%" PRIu64, c, s.causes[c]);
    std::printf("\n");
  }
#if VM_TRACE
  if (tfp) tfp->close();
#endif
  std::printf("lockstep: PASS %zu seed(s), %" PRIu64 " cycles\n", seeds.size(), total);
  top->final();
  return 0;
}
