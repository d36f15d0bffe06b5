"""inference.llmkube.dev/v1alpha1: the Model and InferenceService API as frozen attrs values."""
