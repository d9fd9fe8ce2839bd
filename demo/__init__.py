"""The demo shop (`demo.site`) and the visitors that browse it (`demo.traffic`)."""
