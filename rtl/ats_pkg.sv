// Shared types, constants and small helper functions of the ATS device.
//
// Widths that depend on top-level parameters (PaWidth, NumThreads, ...) are
// not package types; modules derive them from their own parameters.
//
// Per-slot state is a packed array of a package enum (`dma_st_e [NumThreads-1:0]
// st_q`: names in the waves). Per-slot fields (ATC entries, trackers, requests)
// stay flat vectors, not packed arrays of packed structs: Yosys 0.70 reads a
// member of an array element in a procedural loop (`ent_q[i].pasid`) as an
// implicitly declared wire and infers a latch when one is assigned.

package ats_pkg;

  // Fault causes; values are mirrored by model.ats.Fault.
  typedef enum logic [3:0] {
    FaultNone         = 4'd0,
    FaultNotPresent   = 4'd1,
    FaultWriteProtect = 4'd2,
    FaultSupervisor   = 4'd3,
    FaultReserved     = 4'd4,
    FaultPasid        = 4'd5,
    FaultBusWalk      = 4'd6,
    FaultBusData      = 4'd7,
    FaultNoncanonical = 4'd8,
    FaultMisaligned   = 4'd9,
    FaultAdUpdate     = 4'd10,  // A/D update not atomic: no exclusive monitor, or retries used up
    FaultPrgInvalid   = 4'd11,  // PRG Response Invalid Request
    FaultPrgFailure   = 4'd12,  // PRG Response Failure (or a reserved code)
    FaultPriTimeout   = 4'd13,  // Page Request never answered
    FaultLivelock     = 4'd14,  // Page Requests answered Success, translation still faults
    FaultBusTimeout   = 4'd15   // AXI request not granted or not answered within AxiTimeout cycles
  } fault_e;

  // PRG Response codes (PCIe Page Request Interface); reserved codes are
  // taken as Response Failure.
  typedef enum logic [3:0] {
    PrgSuccess = 4'h0,
    PrgInvalid = 4'h1,
    PrgFailure = 4'hF
  } prg_rsp_e;

  localparam int unsigned PrgiW = 9;  // Page Request Group Index

  // DMA thread state (dma.sv)
  typedef enum logic [2:0] {
    TIdle = 3'd0,  // free
    TLkp  = 3'd1,  // waiting for an ATC lookup slot
    TXlat = 3'd2,  // ATC miss, waiting for the walk
    TMem  = 3'd3,  // translated, access waiting for the AXI port
    TMwt  = 3'd4,  // access issued, waiting for R/B
    TRsp  = 3'd5,  // response pending
    TPri  = 3'd6,  // translation fault, Page Request waiting for the link
    TPwt  = 3'd7   // Page Request sent, waiting for its PRG Response
  } dma_st_e;

  // ATC Translation Request tracker state, one tracker per DMA thread (atc.sv)
  typedef enum logic [1:0] {
    TFree = 2'd0,  // no request
    TNeed = 2'd1,  // request waiting to be sent
    TInfl = 2'd2,  // request at the walker
    TFlt  = 2'd3   // write hit a read-only entry: fault to deliver
  } trk_st_e;

  // walk slot state (ptw.sv)
  typedef enum logic [2:0] {
    WIdle  = 3'd0,  // free
    WRead  = 3'd1,  // read request pending at the AXI port
    WWait  = 3'd2,  // waiting for the read data
    WDone  = 3'd3,  // completion pending
    WWrite = 3'd4,  // A/D write pending at the AXI port
    WBack  = 3'd5   // waiting for the A/D write response
  } walk_st_e;

  // Page size of a translation (Translation Completion size field).
  typedef enum logic [1:0] {
    Pg4K = 2'd0,
    Pg2M = 2'd1,
    Pg1G = 2'd2
  } pg_size_e;

  localparam int unsigned PasidW  = 20;  // PASID width
  localparam int unsigned VpnW    = 52;  // full virtual page number, VA[63:12]
  localparam int unsigned CVpnW   = 36;  // canonical VPN, VA[47:12]
  localparam int unsigned ItagW   = 5;   // Invalidate Request ITag
  localparam int unsigned NumItag = 32;  // ITags outstanding at most
  localparam int unsigned AxiIdW  = 4;   // id[3]=1: DMA thread id[2:0]; id[3]=0: walk slot id[2:0]
  localparam int unsigned XIdW    = 3;   // Translation Request/Completion id (one per thread)

  // Package functions below compare page sizes against literals (1 = Pg2M,
  // 2 = Pg1G): Yosys (0.23, still 0.70) does not resolve enum items inside
  // package functions inlined into a module ("Failed to detect width for
  // identifier"). They also spell all-ones as {W{1'b1}}: Yosys 0.23 folds a
  // call with constant arguments with '1 read as a single 1 bit (0.70 folds
  // it right; the spelled-out form stays).

  // x86-64 paging entry bits
  localparam int unsigned PteP  = 0;
  localparam int unsigned PteRw = 1;
  localparam int unsigned PteUs = 2;
  localparam int unsigned PteA  = 5;
  localparam int unsigned PteD  = 6;
  localparam int unsigned PtePs = 7;

  // AXI response bit 1 set: SLVERR or DECERR
  localparam int unsigned AxiRespErrBit = 1;
  // AXI response EXOKAY: an exclusive access succeeded (exclusive read: the
  // monitor holds a reservation; exclusive write: it was performed)
  localparam logic [1:0] AxiRespExOkay = 2'b01;

  // Keep mask over VPN bits [63:12] of a page of the given size: the bits
  // that name the page (offset bits inside the page are 0).
  function automatic logic [VpnW-1:0] size_keep(input logic [1:0] size);
    logic [VpnW-1:0] k;
    k = {VpnW{1'b1}};
    if (size == 2'd1) begin
      k[8:0] = '0;
    end else if (size == 2'd2) begin
      k[17:0] = '0;
    end
    size_keep = k;
  endfunction

  // Keep mask of an ATS invalidation range (ARCHITECTURE.md section 4).
  // S=0: one 4 KiB page. S=1: the lowest clear address bit b and all bits
  // below it are range offset bits; addr ^ (addr + 1) sets exactly bits
  // [b:12]. Bits [62:12] all ones gives an all-zero mask (whole space), both
  // with bit 63 clear (carry into bit 63) and set (wrap to zero).
  function automatic logic [VpnW-1:0] inv_keep(input logic [VpnW-1:0] addr, input logic s);
    logic [VpnW-1:0] k;
    if (s) begin
      k = ~(addr ^ (addr + 1'b1));
    end else begin
      k = {VpnW{1'b1}};
    end
    inv_keep = k;
  endfunction

  // Two naturally aligned power-of-two ranges overlap iff they agree on every
  // bit that names both of them.
  function automatic logic range_overlap(input logic [VpnW-1:0] a, input logic [VpnW-1:0] a_keep,
                                         input logic [VpnW-1:0] b, input logic [VpnW-1:0] b_keep);
    range_overlap = ~|((a ^ b) & a_keep & b_keep);
  endfunction

  // Sign-extend a canonical VPN (VA[47:12]) to VA[63:12].
  function automatic logic [VpnW-1:0] sext_vpn(input logic [CVpnW-1:0] vpn);
    sext_vpn = {{(VpnW - CVpnW){vpn[CVpnW-1]}}, vpn};
  endfunction

  // Keep mask over a canonical VPN (VA[47:12]) for a page of the given size:
  // the low CVpnW bits of size_keep.
  function automatic logic [CVpnW-1:0] cvpn_keep(input logic [1:0] size);
    cvpn_keep = CVpnW'(size_keep(size));
  endfunction

  // VA[63:47] (= VPN[51:35]) all equal.
  function automatic logic vpn_canonical(input logic [VpnW-CVpnW:0] hi);
    vpn_canonical = ~|hi || &hi;
  endfunction

  // PPN of the 4 KiB page holding the VA, from the base PPN of a page of
  // `size` and VA[29:12] (`off`).
  function automatic logic [39:0] page_ppn(input logic [39:0] base_ppn, input logic [1:0] size,
                                           input logic [17:0] off);
    logic [39:0] p;
    p = base_ppn;
    if (size == 2'd1) begin
      p[8:0] = off[8:0];
    end else if (size == 2'd2) begin
      p[17:0] = off;
    end
    page_ppn = p;
  endfunction

  // PWC tag (VA[47:21]) bits that name a non-leaf entry of a level:
  // 0 PASID entry (whole space), 1 PML4E VA[47:39], 2 PDPTE VA[47:30], 3 PDE VA[47:21]
  function automatic logic [26:0] pwc_lvl_mask(input logic [1:0] l);
    logic [26:0] m;
    case (l)
      2'd0:    m = 27'h0;
      2'd1:    m = 27'h7FC0000;
      2'd2:    m = 27'h7FFFE00;
      default: m = 27'h7FFFFFF;
    endcase
    pwc_lvl_mask = m;
  endfunction

endpackage
