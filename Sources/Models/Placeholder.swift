// Models: BERT, HuBERT, CLIP vision, MTCNN on the Tensor module (see the open issues).
