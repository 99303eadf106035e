// Binds the interface checker to a flattened netlist of ats_dev_top (Yosys
// write_verilog keeps the ports but no parameters): the checker's defaults are
// ats_dev_top's defaults, which is what such a netlist is built with.
bind ats_dev_top top_assert u_top_assert (.*);
