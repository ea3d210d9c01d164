// Anchor translation unit for the shared precompiled ATen header.
