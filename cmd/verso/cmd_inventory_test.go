package main

import (
	"encoding/json"
	"testing"
)

// TestBuildInventory_Schemas checks that the schemas of an inventory's
// namespaces are neither groups nor variables.
func TestBuildInventory_Schemas(t *testing.T) {
	export := `{".schema": "{}", "web": {".schema": "{\"required\": [\"hosts\"]}",
		"hosts": {".schema": "{}", "web1": {".schema": "{}", "port": 80}}, "vars": {".schema": "{}", "tier": "front"}}}`
	inv, err := buildInventory("/inventory", []byte(export))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(inv.script())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"_meta":{"hostvars":{"web1":{"port":80}}},"web":{"hosts":["web1"],"vars":{"tier":"front"}}}`
	if string(got) != want {
		t.Errorf("inventory = %s, want %s", got, want)
	}
}
