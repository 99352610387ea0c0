package cluster_test

const helperEnv = "SPAWNED_CLUSTER_HELPER"

func runHelper(name string) int { return 2 }
