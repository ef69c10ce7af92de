// Package message defines what travels between a socketipc server and its
// clients: the envelope (a topic and a JSON payload), the frames that carry it
// on the socket (JSON text followed by a delimiter, "\x00\x00" by default, as
// in the Node package socket-ipc 0.4), the Transcoder that turns one into the
// other, and the errors that sending and receiving can report.
package message
