"""Tests of the board, the responders and the sources against local peers: real HTTP and SMTP
servers on loopback (aiohttp, aiosmtpd), fakes of the platforms that speak their protocols."""
