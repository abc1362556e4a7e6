/* A tiny ELF executable: objcopy adds a .go.buildinfo section to a copy of it
   so the Go detector can be tested without a Go toolchain. */
int main(void) { return 0; }
