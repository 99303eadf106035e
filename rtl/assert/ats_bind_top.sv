// Binds the interface checker to the top level's ports (also valid on a
// flattened netlist of ats_dev_top).
bind ats_dev_top top_assert #(
  .NumThreads(NumThreads),
  .NumWalks  (NumWalks),
  .PaWidth   (PaWidth),
  .Outstanding(DmaOutstanding)
) u_top_assert (.*);
