// Package interop checks cookiesession against the real libraries it
// interoperates with, kept in a module of their own so that they never
// enter the library's dependency graph.
package interop
