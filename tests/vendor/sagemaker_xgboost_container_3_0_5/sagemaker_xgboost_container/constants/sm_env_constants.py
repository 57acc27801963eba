# Copyright 2019 Amazon.com, Inc. or its affiliates. All Rights Reserved.
#
# Licensed under the Apache License, Version 2.0 (the 'License'). You
# may not use this file except in compliance with the License. A copy of
# the License is located at
#
#     http://aws.amazon.com/apache2.0/
#
# or in the 'license' file accompanying this file. This file is
# distributed on an 'AS IS' BASIS, WITHOUT WARRANTIES OR CONDITIONS OF
# ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.
# TODO: Move these to sagemaker-containers

# Resource related constants
SM_CURRENT_HOST = "SM_CURRENT_HOST"
SM_HOSTS = "SM_HOSTS"
SM_NUM_GPUS = "SM_NUM_GPUS"

# Data related constants
SM_CHANNEL_TRAIN = "SM_CHANNEL_TRAIN"
SM_CHANNEL_VALIDATION = "SM_CHANNEL_VALIDATION"
SM_MODEL_DIR = "SM_MODEL_DIR"

# Training constants
SM_INPUT_TRAINING_CONFIG_FILE = "SM_INPUT_TRAINING_CONFIG_FILE"
SM_INPUT_DATA_CONFIG_FILE = "SM_INPUT_DATA_CONFIG_FILE"
SM_CHECKPOINT_CONFIG_FILE = "SM_CHECKPOINT_CONFIG_FILE"
SM_OUTPUT_DATA_DIR = "SM_OUTPUT_DATA_DIR"

# Inference constants
SAGEMAKER_INFERENCE_ENSEMBLE = "SAGEMAKER_INFERENCE_ENSEMBLE"
SAGEMAKER_INFERENCE_OUTPUT = "SAGEMAKER_INFERENCE_OUTPUT"
SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
SAGEMAKER_BATCH = "SAGEMAKER_BATCH"

# Multiprocessing related constants
ONE_THREAD_PER_PROCESS = "1"
