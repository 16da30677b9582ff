// Package chronytest provides a real chronyd lab and a fake chronyd for tests.
package chronytest
