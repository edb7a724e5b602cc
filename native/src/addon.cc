// The only node-addon-api glue of the native DCSM: argument unpacking, the
// JS-owned command and trace buffers, and typed errors.  No decisions here.
//
// Contract with src/core/native.ts:
//  - new NativeDcsm(config, errorClasses, commandBuffer, traceBuffer?)
//    errorClasses[code] is the class thrown for ErrorCode code;
//  - every input method returns the number of commands written into the
//    command buffer ([op, p, a, b, c] tuples), or throws errorClasses[code]
//    with `applied` and `commandCount` set (the batch prefix's commands are in
//    the buffer);
//  - the TypeScript side validates arguments first; this file checks them
//    again and never throws twice (env.IsExceptionPending()).
#include <napi.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/dcsm.h"

namespace {

using htmqc::ErrorCode;
using htmqc::Status;

class NativeDcsm : public Napi::ObjectWrap<NativeDcsm> {
 public:
  static Napi::Object Init(Napi::Env env, Napi::Object exports) {
    Napi::Function cls = DefineClass(
        env, "NativeDcsm",
        {
            InstanceMethod<&NativeDcsm::Assigned>("assigned"),
            InstanceMethod<&NativeDcsm::Revoked>("revoked"),
            InstanceMethod<&NativeDcsm::Fetched>("fetched"),
            InstanceMethod<&NativeDcsm::HandlerSucceeded>("handlerSucceeded"),
            InstanceMethod<&NativeDcsm::HandlerFailed>("handlerFailed"),
            InstanceMethod<&NativeDcsm::HandlerResults>("handlerResults"),
            InstanceMethod<&NativeDcsm::SucceededRange>("succeededRange"),
            InstanceMethod<&NativeDcsm::LedgerCommitted>("ledgerCommitted"),
            InstanceMethod<&NativeDcsm::LedgerRejected>("ledgerRejected"),
            InstanceMethod<&NativeDcsm::LedgerUnknown>("ledgerUnknown"),
            InstanceMethod<&NativeDcsm::LedgerRead>("ledgerRead"),
            InstanceMethod<&NativeDcsm::Tick>("tick"),
            InstanceMethod<&NativeDcsm::SetCommandBuffer>("setCommandBuffer"),
            InstanceMethod<&NativeDcsm::DrainTrace>("drainTrace"),
            InstanceMethod<&NativeDcsm::TraceLost>("traceLost"),
            InstanceMethod<&NativeDcsm::Snapshot>("snapshot"),
        });
    exports.Set("NativeDcsm", cls);
    return exports;
  }

  explicit NativeDcsm(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeDcsm>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsArray() || !info[2].IsTypedArray()) {
      Napi::TypeError::New(env, "NativeDcsm(config, errorClasses, commandBuffer, traceBuffer?)").ThrowAsJavaScriptException();
      return;
    }
    error_classes_ = Napi::Persistent(info[1].As<Napi::Array>());
    Napi::Object cfg = info[0].As<Napi::Object>();
    htmqc::Config config;
    int64_t v = 0;
    if (!ConfigField(cfg, "window", &v)) return;
    config.window = static_cast<uint32_t>(v);
    if (!ConfigField(cfg, "maxRetries", &v)) return;
    config.max_retries = static_cast<uint32_t>(v);
    if (!ConfigField(cfg, "retryBackoff", &v)) return;
    config.retry_backoff = v;
    if (!ConfigField(cfg, "maxPartitions", &v)) return;
    config.max_partitions = static_cast<uint32_t>(v);
    if (!ConfigField(cfg, "traceCapacity", &v)) return;
    config.trace_capacity = static_cast<size_t>(v);
    const std::string problem = htmqc::check_config(config);
    if (!problem.empty()) {
      ThrowTyped(env, ErrorCode::InvalidArgument, problem, 0);
      return;
    }
    core_ = std::make_unique<htmqc::Dcsm>(config);
    if (!AdoptCommandBuffer(env, info[2])) return;
    if (config.trace_capacity > 0) {
      if (info.Length() < 4 || !IsFloat64Array(info[3]) ||
          info[3].As<Napi::Float64Array>().ElementLength() < config.trace_capacity * htmqc::kTraceStride) {
        ThrowTyped(env, ErrorCode::InvalidArgument, "traceBuffer must be a Float64Array of traceCapacity * 8", 0);
        return;
      }
      Napi::Float64Array buf = info[3].As<Napi::Float64Array>();
      trace_buffer_ = Napi::Persistent(buf);
      trace_data_ = buf.Data();
    }
  }

 private:
  // ------------------------------------------------------------ inputs --

  Napi::Value Assigned(const Napi::CallbackInfo& info) {
    int64_t p, epoch, next, gen;
    if (!Int(info, 0, &p) || !Int(info, 1, &epoch) || !Int(info, 2, &next) || !Int(info, 3, &gen)) return info.Env().Undefined();
    return Finish(info.Env(), core_->assigned(p, epoch, next, gen));
  }

  Napi::Value Revoked(const Napi::CallbackInfo& info) {
    int64_t p;
    if (!Int(info, 0, &p)) return info.Env().Undefined();
    return Finish(info.Env(), core_->revoked(p));
  }

  Napi::Value Fetched(const Napi::CallbackInfo& info) {
    int64_t p, base, count;
    if (!Int(info, 0, &p) || !Int(info, 1, &base) || !Int(info, 2, &count)) return info.Env().Undefined();
    return Finish(info.Env(), core_->fetched(p, base, count));
  }

  Napi::Value HandlerSucceeded(const Napi::CallbackInfo& info) {
    int64_t p, o;
    if (!Int(info, 0, &p) || !Int(info, 1, &o)) return info.Env().Undefined();
    return Finish(info.Env(), core_->handler_succeeded(p, o));
  }

  Napi::Value HandlerFailed(const Napi::CallbackInfo& info) {
    int64_t p, o;
    if (!Int(info, 0, &p) || !Int(info, 1, &o)) return info.Env().Undefined();
    return Finish(info.Env(), core_->handler_failed(p, o));
  }

  // handlerResults(Int32Array partitions, Float64Array offsets, Uint8Array outcomes, count)
  Napi::Value HandlerResults(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int64_t n;
    if (info.Length() < 4 || !IsTyped(info[0], napi_int32_array) || !IsFloat64Array(info[1]) ||
        !IsTyped(info[2], napi_uint8_array) || !Int(info, 3, &n)) {
      if (!env.IsExceptionPending()) {
        ThrowTyped(env, ErrorCode::InvalidArgument, "handlerResults(Int32Array, Float64Array, Uint8Array, count)", 0);
      }
      return env.Undefined();
    }
    Napi::Int32Array ps = info[0].As<Napi::Int32Array>();
    Napi::Float64Array os = info[1].As<Napi::Float64Array>();
    Napi::Uint8Array outcomes = info[2].As<Napi::Uint8Array>();
    if (n < 0 || static_cast<size_t>(n) > ps.ElementLength() || static_cast<size_t>(n) > os.ElementLength() ||
        static_cast<size_t>(n) > outcomes.ElementLength()) {
      ThrowTyped(env, ErrorCode::InvalidArgument, "count exceeds an array's length", 0);
      return env.Undefined();
    }
    return Finish(env, core_->handler_results(ps.Data(), os.Data(), outcomes.Data(), static_cast<size_t>(n)));
  }

  Napi::Value SucceededRange(const Napi::CallbackInfo& info) {
    int64_t p, from, to;
    if (!Int(info, 0, &p) || !Int(info, 1, &from) || !Int(info, 2, &to)) return info.Env().Undefined();
    return Finish(info.Env(), core_->succeeded_range(p, from, to));
  }

  Napi::Value LedgerCommitted(const Napi::CallbackInfo& info) {
    int64_t p, next;
    if (!Int(info, 0, &p) || !Int(info, 1, &next)) return info.Env().Undefined();
    return Finish(info.Env(), core_->ledger_committed(p, next));
  }

  Napi::Value LedgerRejected(const Napi::CallbackInfo& info) {
    int64_t p;
    if (!Int(info, 0, &p)) return info.Env().Undefined();
    return Finish(info.Env(), core_->ledger_rejected(p));
  }

  Napi::Value LedgerUnknown(const Napi::CallbackInfo& info) {
    int64_t p;
    if (!Int(info, 0, &p)) return info.Env().Undefined();
    return Finish(info.Env(), core_->ledger_unknown(p));
  }

  Napi::Value LedgerRead(const Napi::CallbackInfo& info) {
    int64_t p, epoch, next;
    if (!Int(info, 0, &p) || !Int(info, 1, &epoch) || !Int(info, 2, &next)) return info.Env().Undefined();
    return Finish(info.Env(), core_->ledger_read(p, epoch, next));
  }

  Napi::Value Tick(const Napi::CallbackInfo& info) {
    int64_t now;
    if (!Int(info, 0, &now)) return info.Env().Undefined();
    return Finish(info.Env(), core_->tick(now));
  }

  // ----------------------------------------------------------- buffers --

  Napi::Value SetCommandBuffer(const Napi::CallbackInfo& info) {
    if (info.Length() < 1) {
      ThrowTyped(info.Env(), ErrorCode::InvalidArgument, "setCommandBuffer(Float64Array)", 0);
      return info.Env().Undefined();
    }
    AdoptCommandBuffer(info.Env(), info[0]);
    return info.Env().Undefined();
  }

  // Moves every pending trace record into the trace buffer; returns how many.
  Napi::Value DrainTrace(const Napi::CallbackInfo& info) {
    htmqc::TraceRing* ring = core_->trace();
    if (ring == nullptr) return Napi::Number::New(info.Env(), 0);
    return Napi::Number::New(info.Env(), static_cast<double>(ring->drain(trace_data_, ring->capacity())));
  }

  Napi::Value TraceLost(const Napi::CallbackInfo& info) {
    htmqc::TraceRing* ring = core_->trace();
    return Napi::Number::New(info.Env(), ring == nullptr ? 0.0 : static_cast<double>(ring->lost()));
  }

  // A fresh Float64Array per call: snapshots are off the hot path.
  Napi::Value Snapshot(const Napi::CallbackInfo& info) {
    core_->snapshot(scratch_);
    Napi::Float64Array out = Napi::Float64Array::New(info.Env(), scratch_.size());
    std::copy(scratch_.begin(), scratch_.end(), out.Data());
    return out;
  }

  // ----------------------------------------------------------- helpers --

  static bool IsTyped(const Napi::Value& v, napi_typedarray_type type) {
    return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == type;
  }
  static bool IsFloat64Array(const Napi::Value& v) { return IsTyped(v, napi_float64_array); }

  bool AdoptCommandBuffer(Napi::Env env, const Napi::Value& v) {
    if (!IsFloat64Array(v)) {
      ThrowTyped(env, ErrorCode::InvalidArgument, "commandBuffer must be a Float64Array", 0);
      return false;
    }
    Napi::Float64Array buf = v.As<Napi::Float64Array>();
    command_buffer_ = Napi::Persistent(buf);
    core_->set_command_buffer(buf.Data(), buf.ElementLength() / htmqc::kCommandStride);
    return true;
  }

  // Argument i as an integral double within +-2^53; the core checks ranges.
  bool Int(const Napi::CallbackInfo& info, size_t i, int64_t* out) {
    if (i < info.Length() && info[i].IsNumber()) {
      const double d = info[i].As<Napi::Number>().DoubleValue();
      if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) <= 9007199254740991.0) {
        *out = static_cast<int64_t>(d);
        return true;
      }
    }
    ThrowTyped(info.Env(), ErrorCode::InvalidArgument, "argument " + std::to_string(i) + " must be an integer", 0);
    return false;
  }

  bool ConfigField(const Napi::Object& cfg, const char* name, int64_t* out) {
    Napi::Env env = cfg.Env();
    Napi::Value v = cfg.Get(name);
    if (env.IsExceptionPending()) return false;
    if (v.IsNumber()) {
      const double d = v.As<Napi::Number>().DoubleValue();
      if (std::isfinite(d) && std::floor(d) == d && d >= 0 && d <= 9007199254740991.0) {
        *out = static_cast<int64_t>(d);
        return true;
      }
    }
    ThrowTyped(env, ErrorCode::InvalidArgument, std::string("config.") + name + " must be a non-negative integer", 0);
    return false;
  }

  Napi::Value Finish(Napi::Env env, const Status& st) {
    if (st.ok()) return Napi::Number::New(env, static_cast<double>(core_->command_count()));
    ThrowTyped(env, st.code, st.message, st.applied);
    return env.Undefined();
  }

  // Throws errorClasses[code](message) with applied/commandCount; at most once.
  void ThrowTyped(Napi::Env env, ErrorCode code, const std::string& message, size_t applied) {
    if (env.IsExceptionPending()) return;
    Napi::Value cls = error_classes_.IsEmpty() ? env.Undefined() : error_classes_.Value().Get(static_cast<uint32_t>(code));
    if (env.IsExceptionPending()) return;
    if (!cls.IsFunction()) {
      Napi::Error::New(env, message).ThrowAsJavaScriptException();
      return;
    }
    Napi::Object err = cls.As<Napi::Function>().New({Napi::String::New(env, message)});
    if (env.IsExceptionPending()) return;
    err.Set("applied", Napi::Number::New(env, static_cast<double>(applied)));
    err.Set("commandCount", Napi::Number::New(env, core_ ? static_cast<double>(core_->command_count()) : 0.0));
    if (env.IsExceptionPending()) return;
    Napi::Error(env, err).ThrowAsJavaScriptException();
  }

  std::unique_ptr<htmqc::Dcsm> core_;
  Napi::Reference<Napi::Array> error_classes_;
  Napi::Reference<Napi::Float64Array> command_buffer_;
  Napi::Reference<Napi::Float64Array> trace_buffer_;
  double* trace_data_ = nullptr;
  std::vector<double> scratch_;
};

Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return NativeDcsm::Init(env, exports); }

}  // namespace

NODE_API_MODULE(htmqc_native, InitModule)
