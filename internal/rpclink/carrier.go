package rpclink

import (
	"context"
	"reflect"
)

// carrier is a context carrying a T, allocated with it: one allocation where
// context.WithValue and the T would take two, on every connection, call and
// attempt. Value answers for K, a key type of this package, with the T, and
// defers everything else to the parent, as context.WithValue does.
type carrier[K comparable, T any] struct {
	context.Context
	v T
}

// carry returns a context derived from parent that carries a new T, and
// the T.
func carry[K comparable, T any](parent context.Context) (context.Context, *T) {
	c := &carrier[K, T]{Context: parent}
	return c, &c.v
}

// Value returns the T for a K and asks the parent for anything else.
func (c *carrier[K, T]) Value(key any) any {
	if _, ok := key.(K); ok {
		return &c.v
	}
	return c.Context.Value(key)
}

// String names the context for debugging, as context.WithValue's does.
func (c *carrier[K, T]) String() string {
	return "rpclink." + reflect.TypeFor[T]().Name()
}
