"""cocotb + pyuvm testbenches binding the host model to the RTL."""
