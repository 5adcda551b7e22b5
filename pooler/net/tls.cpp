#include "pooler/net/tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "pooler/net/conninfo.h"

namespace shardpool::pooler {

namespace {

std::string opensslError(const char* what) {
  std::string msg = what;
  unsigned long e;
  bool first = true;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    msg += first ? ": " : "; ";
    msg += buf;
    first = false;
  }
  return msg;
}

SSL_CTX* newContext(const SSL_METHOD* method, std::string& error) {
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (!ctx) {
    error = opensslError("SSL_CTX_new");
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  return ctx;
}

bool loadCertAndKey(SSL_CTX* ctx, const std::string& cert, const std::string& key,
                    std::string& error) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
    error = opensslError(("cannot load certificate " + cert).c_str());
    return false;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    error = opensslError(("cannot load private key " + key).c_str());
    return false;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    error = opensslError("private key does not match the certificate");
    return false;
  }
  return true;
}

}  // namespace

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

std::unique_ptr<TlsContext> TlsContext::forAccept(const std::string& certFile,
                                                  const std::string& keyFile,
                                                  const std::string& caFile, bool requireCert,
                                                  std::string& error) {
  SSL_CTX* ctx = newContext(TLS_server_method(), error);
  if (!ctx) return nullptr;
  std::unique_ptr<TlsContext> out(new TlsContext(ctx));
  if (!loadCertAndKey(ctx, certFile, keyFile, error)) return nullptr;
  if (!caFile.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, caFile.c_str(), nullptr) != 1) {
      error = opensslError(("cannot load CA file " + caFile).c_str());
      return nullptr;
    }
    SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(caFile.c_str()));
    // Clients are asked for a certificate; one they send must verify. Without requireCert a
    // client may send none (auth "cert" then refuses that client alone).
    SSL_CTX_set_verify(ctx,
                       requireCert ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                   : SSL_VERIFY_PEER,
                       nullptr);
  }
  return out;
}

std::unique_ptr<TlsContext> TlsContext::forConnect(bool verify, const std::string& caFile,
                                                   const std::string& certFile,
                                                   const std::string& keyFile,
                                                   std::string& error) {
  SSL_CTX* ctx = newContext(TLS_client_method(), error);
  if (!ctx) return nullptr;
  std::unique_ptr<TlsContext> out(new TlsContext(ctx));
  if (!certFile.empty() && !loadCertAndKey(ctx, certFile, keyFile, error)) return nullptr;
  if (verify) {
    int ok = caFile.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                            : SSL_CTX_load_verify_locations(ctx, caFile.c_str(), nullptr);
    if (ok != 1) {
      error = opensslError(("cannot load CA file " + caFile).c_str());
      return nullptr;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  return out;
}

namespace {
SSL* newSsl(const TlsContext& ctx, BIO*& in, BIO*& out) {
  SSL* ssl = SSL_new(ctx.get());
  in = BIO_new(BIO_s_mem());
  out = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(in, -1);
  BIO_set_mem_eof_return(out, -1);
  SSL_set_bio(ssl, in, out);
  return ssl;
}
}  // namespace

std::unique_ptr<TlsSession> TlsSession::accept(const TlsContext& ctx) {
  BIO *in, *out;
  SSL* ssl = newSsl(ctx, in, out);
  SSL_set_accept_state(ssl);
  return std::unique_ptr<TlsSession>(new TlsSession(ssl, in, out));
}

std::unique_ptr<TlsSession> TlsSession::connect(const TlsContext& ctx, const std::string& host,
                                                bool verifyHost) {
  BIO *in, *out;
  SSL* ssl = newSsl(ctx, in, out);
  SSL_set_connect_state(ssl);
  if (!host.empty() && host[0] != '/' && !isIpAddress(host))
    SSL_set_tlsext_host_name(ssl, host.c_str());
  if (verifyHost && !host.empty()) {
    if (isIpAddress(host)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
    } else {
      SSL_set1_host(ssl, host.c_str());
    }
  }
  return std::unique_ptr<TlsSession>(new TlsSession(ssl, in, out));
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

void TlsSession::feed(const uint8_t* data, size_t len) {
  while (len > 0) {
    int n = BIO_write(in_, data, static_cast<int>(len));
    if (n <= 0) return;
    data += n;
    len -= static_cast<size_t>(n);
  }
}

TlsSession::Status TlsSession::fail(const char* what) {
  error_ = opensslError(what);
  long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    error_ += "; certificate verification: ";
    error_ += X509_verify_cert_error_string(verify);
  }
  return Status::Error;
}

TlsSession::Status TlsSession::handshake() {
  if (established_) return Status::Ok;
  ERR_clear_error();
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    established_ = true;
    return Status::Ok;
  }
  int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Status::WantMore;
  return fail("TLS handshake failed");
}

TlsSession::Status TlsSession::read(uint8_t* out, size_t cap, size_t& n) {
  n = 0;
  ERR_clear_error();
  int rc = SSL_read(ssl_, out, static_cast<int>(cap));
  if (rc > 0) {
    n = static_cast<size_t>(rc);
    return Status::Ok;
  }
  int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Status::WantMore;
  if (err == SSL_ERROR_ZERO_RETURN) return Status::Closed;
  return fail("TLS read failed");
}

bool TlsSession::write(const uint8_t* data, size_t len) {
  while (len > 0) {
    ERR_clear_error();
    int rc = SSL_write(ssl_, data, static_cast<int>(len));
    if (rc <= 0) {
      fail("TLS write failed");
      return false;
    }
    data += rc;
    len -= static_cast<size_t>(rc);
  }
  return true;
}

bool TlsSession::takeOutput(std::string& out) {
  size_t pending = BIO_ctrl_pending(out_);
  if (pending == 0) return false;
  size_t at = out.size();
  out.resize(at + pending);
  int n = BIO_read(out_, out.data() + at, static_cast<int>(pending));
  out.resize(at + (n > 0 ? static_cast<size_t>(n) : 0));
  return n > 0;
}

std::string TlsSession::peerCommonName() const {
  if (SSL_get_verify_result(ssl_) != X509_V_OK) return {};
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (!cert) return {};
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  X509_free(cert);
  return cn;
}

std::string TlsSession::description() const {
  if (!established_) return {};
  std::string out = SSL_get_version(ssl_);
  if (const char* cipher = SSL_get_cipher_name(ssl_)) {
    out += '/';
    out += cipher;
  }
  return out;
}

std::string TlsSession::tlsServerEndPoint() const {
  if (!established_) return {};
  // An accepting session sent its own certificate; a connecting one received the server's.
  X509* cert = SSL_is_server(ssl_) ? SSL_get_certificate(ssl_) : SSL_get0_peer_certificate(ssl_);
  if (!cert) return {};
  int digestNid = NID_undef;
  if (OBJ_find_sigid_algs(X509_get_signature_nid(cert), &digestNid, nullptr) != 1) return {};
  if (digestNid == NID_md5 || digestNid == NID_sha1) digestNid = NID_sha256;
  const EVP_MD* md = EVP_get_digestbynid(digestNid);
  if (!md) return {};
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, md, hash, &len) != 1) return {};
  return std::string(reinterpret_cast<const char*>(hash), len);
}

}  // namespace shardpool::pooler
