// Simulation side of the assertion macros (ats_assert.svh): a failing check
// also appends its line to the file named by the plusarg
// +ats_assert_log=<path>, which tb.toolchain.run_cocotb reads to put the
// failure (name, cycle, instance) into the test's error message. Formal
// builds do not read this package.
package ats_assert_pkg;

  function automatic void log_fail(input string line);
    string path;
    int    fd;
    if ($value$plusargs("ats_assert_log=%s", path)) begin
      fd = $fopen(path, "a");
      if (fd != 0) begin
        $fdisplay(fd, "%s", line);
        $fclose(fd);
      end
    end
  endfunction

endpackage
