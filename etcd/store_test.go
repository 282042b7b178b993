package etcd

import (
	"testing"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/storetest"
)

func TestStore_Conformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) verso.Store { return mustOpen(t, nil) })
}
