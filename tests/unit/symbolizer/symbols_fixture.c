/* Shared-library fixture for elf_symbols_test: two exported functions and
 * one exported object. */
int weft_fixture_data = 7;

__attribute__((noinline)) int weft_fixture_alpha(int x) { return x * 3 + weft_fixture_data; }

__attribute__((noinline)) int weft_fixture_beta(int x) { return weft_fixture_alpha(x) - 1; }

/* Local data: in .symtab only (SymbolAddresses). */
static int weft_fixture_local[4] = {1, 2, 3, 4};
int weft_fixture_local_at(int i) { return weft_fixture_local[i & 3]; }
